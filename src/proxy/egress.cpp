// The proxy's connections: a request head parsed by Boost.Beast, the allow list asked before anything is
// resolved or connected, then a CONNECT tunnel or one plain-HTTP request forwarded, and the connection reported.
#include "sandpit/proxy/egress.hpp"

// Beast's templates trip -Wnull-dereference where they are instantiated, here.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

namespace sandpit::proxy {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t k_max_body = 16u << 20; // a plain-HTTP request body the proxy forwards

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void answer(int client, int status, const std::string& reason, const std::string& body) {
  (void)write_all(client, fmt::format("HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                                      status, reason, body.size(), body));
}

// "host:port" (CONNECT) or an absolute URL's authority -> host and port.
bool split_authority(std::string_view authority, int default_port, std::string& host, int& port) {
  port = default_port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.empty()) return true;
    if (authority.front() != ':') return false;
    authority.remove_prefix(1);
  } else {
    auto colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon == std::string_view::npos) return !host.empty();
    authority.remove_prefix(colon + 1);
  }
  if (authority.empty() || authority.size() > 5 || authority.find_first_not_of("0123456789") != std::string_view::npos) return false;
  port = std::stoi(std::string(authority));
  return !host.empty() && port > 0 && port <= 65535;
}

// Connects within `timeout`; -1 and errno on failure.
int connect_to(const sockaddr* address, socklen_t size, std::chrono::seconds timeout) {
  int fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (::connect(fd, address, size) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  int err = ETIMEDOUT;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, static_cast<int>(timeout.count() * 1000)) == 1) (void)::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    ::close(fd);
    errno = err;
    return -1;
  }
  ::fcntl(fd, F_SETFL, 0);
  return fd;
}

// Copies bytes both ways until both sides have closed (or, with `upstream_ends` set, b has), or nothing
// moves for `idle`. A side that stops sending passes its half-close on.
void relay(int a, int b, std::uint64_t& a_to_b, std::uint64_t& b_to_a, std::chrono::seconds idle, bool upstream_ends,
           const std::atomic<bool>& stopping) {
  char buf[65536];
  bool a_open = true, b_open = true;
  auto last = Clock::now();
  while ((a_open || b_open) && !stopping && !(upstream_ends && !b_open)) {
    pollfd fds[2] = {{a_open ? a : -1, POLLIN, 0}, {b_open ? b : -1, POLLIN, 0}};
    int n = ::poll(fds, 2, 1000);
    if (n < 0 && errno != EINTR) return;
    if (n <= 0) {
      if (Clock::now() - last >= idle) return;
      continue;
    }
    last = Clock::now();
    for (int side = 0; side < 2; ++side) {
      if ((fds[side].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const int from = side == 0 ? a : b, to = side == 0 ? b : a;
      ssize_t got = ::recv(from, buf, sizeof buf, 0);
      if (got <= 0) {
        ::shutdown(to, SHUT_WR);
        (side == 0 ? a_open : b_open) = false;
        continue;
      }
      if (!write_all(to, std::string_view(buf, static_cast<std::size_t>(got)))) return;
      (side == 0 ? a_to_b : b_to_a) += static_cast<std::uint64_t>(got);
    }
  }
}

} // namespace

Proxy::Proxy(sys::Fd listener, Options options) : m_options(std::move(options)), m_listener(std::move(listener)) {
  auto wake = sys::make_pipe();
  if (wake) m_wake = std::move(wake).value();
  m_acceptor = std::thread([this] { accept_loop(); });
}

Proxy::~Proxy() {
  m_stopping = true;
  [[maybe_unused]] auto n = ::write(m_wake.second.get(), "x", 1);
  if (m_acceptor.joinable()) m_acceptor.join();
  std::unique_lock lock(m_mutex);
  for (int fd : m_clients) ::shutdown(fd, SHUT_RDWR);
  m_idle.wait(lock, [&] { return m_threads == 0; });
}

std::size_t Proxy::active() const {
  std::lock_guard lock(m_mutex);
  return m_threads;
}

void Proxy::accept_loop() {
  while (!m_stopping) {
    pollfd fds[2] = {{m_listener.get(), POLLIN, 0}, {m_wake.first.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (m_stopping || (fds[1].revents & POLLIN) != 0) return;
    int client = ::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(m_mutex);
    if (m_threads >= m_options.max_connections) {
      answer(client, 503, "Service Unavailable", fmt::format("sandpit: the proxy is serving {} connections already\n", m_threads));
      ::close(client);
      continue;
    }
    ++m_threads;
    m_clients.push_back(client);
    try {
      std::thread([this, client] { serve(client); }).detach();
    } catch (const std::system_error&) {
      --m_threads;
      std::erase(m_clients, client);
      ::close(client);
    }
  }
}

void Proxy::serve(int client) {
  const auto started = Clock::now();
  Connection c;
  c.channel = m_options.channel;
  auto finish = [&] {
    c.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    if (m_options.on_close && !c.method.empty()) m_options.on_close(c);
    std::lock_guard lock(m_mutex);
    std::erase(m_clients, client);
    ::close(client);
    if (--m_threads == 0) m_idle.notify_all();
  };
  try {
    timeval tv{static_cast<time_t>(m_options.head_timeout.count()), 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    net::io_context io;
    net::ip::tcp::socket socket(io, net::ip::tcp::v4(), ::dup(client));
    beast::flat_buffer buffer;
    bhttp::request_parser<bhttp::empty_body> head;
    head.header_limit(64 * 1024);
    head.body_limit(k_max_body);
    beast::error_code ec;
    bhttp::read_header(socket, buffer, head, ec);
    if (ec) {
      if (ec != bhttp::error::end_of_stream) {
        c.method = "?";
        c.refused = "a malformed request: " + ec.message();
        answer(client, 400, "Bad Request", "sandpit: the proxy could not read that request\n");
      }
      return finish();
    }
    c.method = std::string(head.get().method_string());
    const bool tunnel = head.get().method() == bhttp::verb::connect;
    const auto target_text = std::string(head.get().target());
    std::string_view target = target_text;
    std::string path = "/";
    bool ok;
    if (tunnel) {
      ok = split_authority(target, 443, c.host, c.port);
    } else {
      // Absolute form only: a plain-HTTP proxy request names its host in the URL.
      ok = target.rfind("http://", 0) == 0;
      if (ok) {
        auto rest = target.substr(7);
        auto slash = rest.find('/');
        path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
        ok = split_authority(rest.substr(0, slash), 80, c.host, c.port);
      }
    }
    if (!ok) {
      c.refused = "not a proxy request (CONNECT host:port, or an absolute http:// URL)";
      answer(client, 400, "Bad Request", "sandpit: " + c.refused + "\n");
      return finish();
    }
    const Rule* rule = m_options.allow.match(c.host, c.port);
    if (rule == nullptr) {
      c.refused = fmt::format("{}:{} is not allowed ({})", c.host, c.port, m_options.channel == "install" ? "only the package indexes" : "network.allow");
      answer(client, 403, "Forbidden", "sandpit: " + c.refused + "\n");
      return finish();
    }
    c.rule = rule->text;
    // Resolved here, checked, and connected to by address: no second look-up a rebinding could change.
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = rule->address ? AI_NUMERICHOST : 0;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(c.host.c_str(), std::to_string(c.port).c_str(), &hints, &found); rc != 0) {
      c.refused = fmt::format("cannot resolve {}: {}", c.host, ::gai_strerror(rc));
      answer(client, 502, "Bad Gateway", "sandpit: " + c.refused + "\n");
      return finish();
    }
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, ::freeaddrinfo);
    int upstream = -1;
    int last_error = 0;
    for (auto* a = found; a != nullptr && upstream < 0; a = a->ai_next) {
      if (!rule->address && !is_public(a->ai_addr) && !m_options.allow.names_address(a->ai_addr, c.port)) {
        c.refused = fmt::format("{} resolves to {}, which is not a public address (allow it by address to reach it)", c.host, address_text(a->ai_addr));
        continue;
      }
      upstream = connect_to(a->ai_addr, a->ai_addrlen, std::chrono::seconds(10));
      if (upstream < 0) last_error = errno;
      else c.address = address_text(a->ai_addr);
    }
    if (upstream < 0) {
      if (c.refused.empty()) c.refused = fmt::format("cannot connect to {}:{}: {}", c.host, c.port, std::strerror(last_error));
      const bool forbidden = c.refused.find("not a public address") != std::string::npos;
      answer(client, forbidden ? 403 : 502, forbidden ? "Forbidden" : "Bad Gateway", "sandpit: " + c.refused + "\n");
      return finish();
    }
    c.allowed = true;
    c.refused.clear();
    sys::Fd up(upstream);
    if (tunnel) {
      if (!write_all(client, "HTTP/1.1 200 Connection established\r\n\r\n")) return finish();
      // Bytes the client sent after its head (a TLS hello, eagerly) go first.
      if (buffer.size() > 0) {
        const auto data = beast::buffers_to_string(buffer.data());
        if (!write_all(up.get(), data)) return finish();
        c.bytes_up += data.size();
      }
    } else {
      bhttp::request_parser<bhttp::string_body> whole{std::move(head)};
      whole.body_limit(k_max_body);
      bhttp::read(socket, buffer, whole, ec);
      if (ec) {
        c.refused = "the request body could not be read: " + ec.message();
        return finish();
      }
      auto request = whole.release();
      request.target(path);
      request.erase("Proxy-Connection");
      request.erase("Proxy-Authorization");
      request.set(bhttp::field::connection, "close");
      request.prepare_payload();
      std::ostringstream serialised;
      serialised << request;
      const auto text = serialised.str();
      if (!write_all(up.get(), text)) return finish();
      c.bytes_up += text.size();
      ::shutdown(up.get(), SHUT_WR);
    }
    timeval none{0, 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    relay(client, up.get(), c.bytes_up, c.bytes_down, m_options.idle_timeout, !tunnel, m_stopping);
  } catch (const std::exception& e) {
    if (c.method.empty()) c.method = "?";
    if (c.refused.empty() && !c.allowed) c.refused = e.what();
  }
  finish();
}

} // namespace sandpit::proxy
