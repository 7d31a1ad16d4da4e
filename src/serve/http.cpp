// The one file that knows Boost.Beast: connections, parsing with limits, and the three kinds of response.
#include "http.hpp"

#include "sandpit/core/error.hpp"

// Beast's templates trip -Wnull-dereference where they are instantiated, here.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <limits>
#include <cerrno>
#include <condition_variable>
#include <fcntl.h>
#include <fmt/format.h>
#include <mutex>
#include <poll.h>
#include <set>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace sandpit::serve::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void set_timeout(int fd, int option, int seconds) {
  timeval tv{seconds, 0};
  (void)::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

// One connection's answer to one request.
class ConnResponse final : public Response {
public:
  ConnResponse(tcp::socket& socket, bool keep_alive) : m_socket(socket), m_keep_alive(keep_alive) {}

  void send(int status, Headers headers, std::string body) override {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
    apply(res, headers);
    res.body() = std::move(body);
    res.prepare_payload();
    m_answered = true;
    beast::error_code ec;
    bhttp::write(m_socket, res, ec);
    if (ec) m_broken = true;
  }

  void send_file(int status, Headers headers, int fd, std::uint64_t size) override {
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), 11};
    apply(res, headers);
    res.content_length(size);
    m_answered = true;
    if (!write_head(res)) return;
    std::uint64_t left = size;
    while (left > 0) {
      ssize_t n = ::sendfile(m_socket.native_handle(), fd, nullptr, std::min<std::uint64_t>(left, 1u << 20));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        m_broken = true; // the file shrank or the client went: the connection cannot go on
        return;
      }
      left -= static_cast<std::uint64_t>(n);
    }
  }

  void begin_stream(int status, Headers headers) override {
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), 11};
    apply(res, headers);
    res.chunked(true);
    m_answered = m_streaming = true;
    (void)write_head(res);
  }

  bool write(std::string_view data) override {
    if (m_broken) return false;
    if (data.empty()) return true;
    beast::error_code ec;
    net::write(m_socket, bhttp::make_chunk(net::const_buffer(data.data(), data.size())), ec);
    if (ec) m_broken = true;
    return !m_broken;
  }

  void finish() override {
    if (!m_streaming || m_finished) return;
    m_finished = true;
    if (m_broken) return;
    beast::error_code ec;
    net::write(m_socket, bhttp::make_chunk_last(), ec);
    if (ec) m_broken = true;
  }

  bool client_gone(int timeout_ms) override {
    if (m_broken) return true;
    pollfd p{m_socket.native_handle(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) return m_broken = true;
    char c;
    ssize_t n = ::recv(m_socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return m_broken = true;
    return false; // it sent the next request early: still there
  }

  int socket() const override { return const_cast<tcp::socket&>(m_socket).native_handle(); }
  bool answered() const override { return m_answered; }
  // Whether the connection can carry another request.
  bool reusable() const { return m_keep_alive && !m_broken && (!m_streaming || m_finished); }

private:
  template <typename Res> void apply(Res& res, const Headers& headers) {
    for (const auto& [name, value] : headers) res.set(name, value);
    res.keep_alive(m_keep_alive);
  }

  bool write_head(bhttp::response<bhttp::empty_body>& res) {
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    beast::error_code ec;
    bhttp::write_header(m_socket, sr, ec);
    if (ec) m_broken = true;
    return !m_broken;
  }

  tcp::socket& m_socket;
  bool m_keep_alive;
  bool m_answered = false;
  bool m_streaming = false;
  bool m_finished = false;
  bool m_broken = false;
};

void plain_error(tcp::socket& socket, int status, const std::string& message) {
  ConnResponse res(socket, false);
  res.send(status, {{"Content-Type", "application/json"}}, fmt::format(R"({{"code":{},"message":"{}"}})", status, message));
}

} // namespace

std::string Request::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

bool Request::has_header(std::string_view name) const { return headers.contains(lower(name)); }

std::string Request::param(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

std::string decode_component(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    auto pair = query.substr(start, end - start);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      auto name = decode_component(pair.substr(0, eq), true);
      auto value = eq == std::string_view::npos ? std::string() : decode_component(pair.substr(eq + 1), true);
      out.emplace(std::move(name), std::move(value));
    }
    start = end + 1;
  }
  return out;
}

std::string reason_phrase(int status) { return std::string(bhttp::obsolete_reason(static_cast<bhttp::status>(status))); }

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  net::io_context io;
  tcp::acceptor acceptor{io};
  sys::FdPair wake;
  std::mutex mutex;
  std::condition_variable idle;
  std::set<int> connections; // sockets of connections being served
  std::atomic<bool> stopping{false};

  void serve(tcp::socket socket);
  bool serve_one(tcp::socket& socket, beast::flat_buffer& buffer);
};

Server::Server(ServerOptions options, Handler handler) : m_impl(std::make_unique<Impl>()) {
  auto& impl = *m_impl;
  impl.options = std::move(options);
  impl.handler = std::move(handler);
  auto wake = sys::make_pipe();
  if (!wake) throw Error(ExitCode::sandbox_setup, "serve", wake.failure().message());
  impl.wake = std::move(wake).value();
  beast::error_code ec;
  auto address = net::ip::make_address(impl.options.host, ec);
  if (ec) throw Error(ExitCode::usage, "--listen " + impl.options.host, "not an IP address: " + ec.message());
  tcp::endpoint endpoint{address, impl.options.port};
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw Error(ExitCode::usage, fmt::format("listen on {}:{}", impl.options.host, impl.options.port), ec.message());
  ::fcntl(impl.acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
}

Server::~Server() { stop(); }

std::string Server::host() const { return m_impl->acceptor.local_endpoint().address().to_string(); }
std::uint16_t Server::port() const { return m_impl->acceptor.local_endpoint().port(); }

void Server::run() {
  auto& impl = *m_impl;
  while (!impl.stopping) {
    pollfd fds[2] = {{impl.acceptor.native_handle(), POLLIN, 0}, {impl.wake.first.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (impl.stopping || (fds[1].revents & POLLIN) != 0) break;
    if ((fds[0].revents & POLLIN) == 0) continue;
    beast::error_code ec;
    tcp::socket socket = impl.acceptor.accept(ec);
    if (ec) continue;
    ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
    socket.set_option(tcp::no_delay(true), ec);
    {
      std::lock_guard lock(impl.mutex);
      if (impl.connections.size() >= impl.options.max_connections) {
        set_timeout(socket.native_handle(), SO_SNDTIMEO, 2);
        plain_error(socket, 503, fmt::format("too many connections (serve.max_connections = {})", impl.options.max_connections));
        continue;
      }
      impl.connections.insert(socket.native_handle());
    }
    try {
      std::thread([&impl, s = std::move(socket)]() mutable { impl.serve(std::move(s)); }).detach();
    } catch (const std::system_error&) {
      std::lock_guard lock(impl.mutex);
      impl.connections.erase(socket.native_handle());
    }
  }
  // Stop: no new connections; idle ones are woken by shutdown(SHUT_RD), busy ones finish their request.
  std::unique_lock lock(impl.mutex);
  for (int fd : impl.connections) ::shutdown(fd, SHUT_RD);
  impl.idle.wait_for(lock, std::chrono::seconds(10), [&] { return impl.connections.empty(); });
}

void Server::stop() {
  if (!m_impl || m_impl->stopping.exchange(true)) return;
  [[maybe_unused]] auto n = ::write(m_impl->wake.second.get(), "x", 1);
}

void Server::Impl::serve(tcp::socket socket) {
  const int fd = socket.native_handle();
  set_timeout(fd, SO_SNDTIMEO, 120); // a client that stops reading cannot hold a thread for ever
  beast::flat_buffer buffer;
  try {
    while (!stopping && serve_one(socket, buffer)) {
    }
  } catch (const std::exception&) {
    // A handler's escape or a broken socket: the connection ends, the server goes on.
  }
  beast::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  std::lock_guard lock(mutex);
  connections.erase(fd);
  if (connections.empty()) idle.notify_all();
  socket.close(ec);
}

bool Server::Impl::serve_one(tcp::socket& socket, beast::flat_buffer& buffer) {
  const int fd = socket.native_handle();
  if (buffer.size() == 0) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, options.idle_timeout_s * 1000) <= 0) return false; // idle too long
  }
  set_timeout(fd, SO_RCVTIMEO, options.header_timeout_s);
  bhttp::request_parser<bhttp::empty_body> head;
  head.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
  // The body's limit is the parser's that reads it (spooled or in memory), set below.
  head.body_limit(std::numeric_limits<std::uint64_t>::max());
  beast::error_code ec;
  bhttp::read_header(socket, buffer, head, ec);
  if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset) return false;
  if (ec) {
    const bool too_big = ec == bhttp::error::header_limit;
    plain_error(socket, too_big ? 431 : 400, too_big ? "request header fields too large" : "malformed request: " + ec.message());
    return false;
  }
  Request req;
  req.method = std::string(head.get().method_string());
  req.target = std::string(head.get().target());
  const auto question = req.target.find('?');
  req.path = decode_component(std::string_view(req.target).substr(0, question), false);
  if (question != std::string::npos) req.query = parse_query(std::string_view(req.target).substr(question + 1));
  for (const auto& field : head.get()) {
    auto name = lower(field.name_string());
    auto& slot = req.headers[name];
    slot = slot.empty() ? std::string(field.value()) : slot + ", " + std::string(field.value());
  }
  const bool keep_alive = head.get().keep_alive();
  if (lower(req.header("expect")) == "100-continue") {
    net::write(socket, net::buffer(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")), ec);
  }
  set_timeout(fd, SO_RCVTIMEO, 60); // a body that stalls for a minute is abandoned
  const bool spool = options.body.spool && options.body.spool(req.method, req.path);
  if (auto length = head.content_length(); length && *length > (spool ? options.body.max_spooled : options.body.max_in_memory)) {
    plain_error(socket, 413, "request body too large");
    return false;
  }
  if (spool) {
    bhttp::request_parser<bhttp::buffer_body> body{std::move(head)};
    body.body_limit(options.body.max_spooled);
    req.body_file = sys::Fd(::open(options.body.spool_dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!req.body_file.valid()) {
      plain_error(socket, 500, fmt::format("cannot spool the request body: {}", std::strerror(errno)));
      return false;
    }
    std::vector<char> chunk(1 << 16);
    while (!body.is_done()) {
      body.get().body().data = chunk.data();
      body.get().body().size = chunk.size();
      bhttp::read(socket, buffer, body, ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) break;
      const std::size_t n = chunk.size() - body.get().body().size;
      if (n > 0 && !sys::write_all(req.body_file.get(), std::string_view(chunk.data(), n))) {
        plain_error(socket, 507, "not enough space to receive the request body");
        return false;
      }
      req.body_size += n;
    }
    ::lseek(req.body_file.get(), 0, SEEK_SET);
  } else {
    bhttp::request_parser<bhttp::string_body> body{std::move(head)};
    body.body_limit(options.body.max_in_memory);
    bhttp::read(socket, buffer, body, ec);
    if (!ec) req.body = std::move(body.get().body());
    req.body_size = req.body.size();
  }
  if (ec) {
    const bool too_big = ec == bhttp::error::body_limit;
    plain_error(socket, too_big ? 413 : 400, too_big ? "request body too large" : "incomplete request body: " + ec.message());
    return false;
  }
  beast::error_code peer_ec;
  auto peer = socket.remote_endpoint(peer_ec);
  if (!peer_ec) req.peer = fmt::format("{}:{}", peer.address().to_string(), peer.port());
  ConnResponse res(socket, keep_alive && !stopping);
  handler(req, res);
  if (!res.answered()) res.send(500, {{"Content-Type", "application/json"}}, R"({"code":500,"message":"the request got no answer"})");
  res.finish();
  return res.reusable();
}

} // namespace sandpit::serve::http
