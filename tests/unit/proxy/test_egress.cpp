#include "sandpit/core/error.hpp"
#include "sandpit/proxy/egress.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <mutex>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace sandpit;
using namespace sandpit::proxy;

namespace {

// A listening socket on 127.0.0.1 and its port.
std::pair<sys::Fd, int> listen_local() {
  sys::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd.get(), 16) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return {std::move(fd), ntohs(a.sin_port)};
}

int connect_local(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

std::string round_trip(int port, const std::string& request) {
  sys::Fd fd(connect_local(port));
  REQUIRE(::send(fd.get(), request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

// An upstream that answers one request per connection with "hello" and closes.
struct Upstream {
  std::pair<sys::Fd, int> l = listen_local();
  std::thread t;
  std::string seen;
  std::mutex m;
  explicit Upstream(int requests) {
    t = std::thread([this, requests] {
      for (int i = 0; i < requests; ++i) {
        sys::Fd c(::accept(l.first.get(), nullptr, nullptr));
        char buf[4096];
        ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
        {
          std::lock_guard lock(m);
          seen.append(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
        }
        const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
        (void)::send(c.get(), answer.data(), answer.size(), 0);
      }
    });
  }
  ~Upstream() { t.join(); }
};

} // namespace

TEST_CASE("AllowList::parse and match") {
  auto allow = AllowList::parse({"example.com", "*.example.org", "10.1.2.3:8080", "[::1]:9000", "API.Test.dev:443"});
  CHECK(allow.match("example.com", 443) != nullptr);
  CHECK(allow.match("EXAMPLE.com.", 80) != nullptr);
  CHECK(allow.match("example.com", 8443) == nullptr); // no port: 80 and 443 only
  CHECK(allow.match("www.example.com", 443) == nullptr);
  CHECK(allow.match("a.example.org", 443)->text == "*.example.org");
  CHECK(allow.match("b.a.example.org", 80) != nullptr);
  CHECK(allow.match("example.org", 443) == nullptr); // a wildcard is for subdomains
  CHECK(allow.match("evilexample.org", 443) == nullptr);
  CHECK(allow.match("10.1.2.3", 8080)->address);
  CHECK(allow.match("10.1.2.3", 80) == nullptr);
  CHECK(allow.match("[::1]", 9000) != nullptr);
  CHECK(allow.match("api.test.dev", 443) != nullptr);
  CHECK_THROWS_AS(AllowList::parse({"bad host"}), Error);
  CHECK_THROWS_AS(AllowList::parse({"example.com:99999"}), Error);
  CHECK_THROWS_AS(AllowList::parse({"*.10.0.0.1"}), Error);
  CHECK_THROWS_AS(AllowList::parse({"exa$mple.com"}), Error);
}

TEST_CASE("is_public tells the internet from loopback, private and special ranges") {
  auto v4 = [](const char* text) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, text, &a.sin_addr);
    return is_public(reinterpret_cast<sockaddr*>(&a));
  };
  auto v6 = [](const char* text) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, text, &a.sin6_addr);
    return is_public(reinterpret_cast<sockaddr*>(&a));
  };
  CHECK(v4("93.184.216.34"));
  for (const char* p : {"127.0.0.1", "10.0.0.1", "172.16.3.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1"}) {
    CAPTURE(p);
    CHECK_FALSE(v4(p));
  }
  CHECK(v6("2606:4700::1111"));
  for (const char* p : {"::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "ff02::1", "64:ff9b::7f00:1"}) {
    CAPTURE(p);
    CHECK_FALSE(v6(p));
  }
}

TEST_CASE("Proxy forwards an allowed plain-HTTP request and refuses the rest with 403, each reported") {
  Upstream upstream(1);
  auto [listener, port] = listen_local();
  std::vector<Connection> seen;
  std::mutex m;
  {
    Options options;
    options.allow = AllowList::parse({"127.0.0.1:" + std::to_string(upstream.l.second)});
    options.on_close = [&](const Connection& c) {
      std::lock_guard lock(m);
      seen.push_back(c);
    };
    Proxy proxy(std::move(listener), std::move(options));
    const auto ok = round_trip(port, "GET http://127.0.0.1:" + std::to_string(upstream.l.second) + "/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Authorization: secret\r\n\r\n");
    CHECK(ok.rfind("HTTP/1.1 200 OK", 0) == 0);
    CHECK(ok.find("hello") != std::string::npos);
    const auto denied = round_trip(port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    CHECK(denied.rfind("HTTP/1.1 403", 0) == 0);
    CHECK(denied.find("example.com:443 is not allowed") != std::string::npos);
    const auto bad = round_trip(port, "GET /relative HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(bad.rfind("HTTP/1.1 400", 0) == 0);
  }
  std::lock_guard lock(upstream.m);
  CHECK(upstream.seen.rfind("GET /x?y=1 HTTP/1.1\r\n", 0) == 0); // origin form upstream
  CHECK(upstream.seen.find("Proxy-Authorization") == std::string::npos);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].allowed);
  CHECK(seen[0].bytes_down > 0);
  CHECK_FALSE(seen[1].allowed);
  CHECK(seen[1].host == "example.com");
}

TEST_CASE("Proxy refuses a name that resolves to a private address unless allowed by address") {
  auto [listener, port] = listen_local();
  Options options;
  options.allow = AllowList::parse({"localhost:8"});
  Proxy proxy(std::move(listener), std::move(options));
  const auto answer = round_trip(port, "CONNECT localhost:8 HTTP/1.1\r\n\r\n");
  CHECK(answer.rfind("HTTP/1.1 403", 0) == 0);
  CHECK(answer.find("not a public address") != std::string::npos);
}

TEST_CASE("Proxy tunnels CONNECT to an allowed address and bounds its connections") {
  Upstream upstream(1);
  auto [listener, port] = listen_local();
  Options options;
  options.allow = AllowList::parse({"127.0.0.1:" + std::to_string(upstream.l.second)});
  options.max_connections = 2;
  Proxy proxy(std::move(listener), std::move(options));
  const auto tunnel = round_trip(port, "CONNECT 127.0.0.1:" + std::to_string(upstream.l.second) + " HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  CHECK(tunnel.rfind("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK", 0) == 0);
  // The tunnel's thread may still be closing its relay: wait until it has let go of its place.
  for (int i = 0; i < 200 && proxy.active() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(proxy.active() == 0);
  // Slow clients that never send their head hold at most max_connections; the next is answered 503.
  sys::Fd a(connect_local(port)), b(connect_local(port));
  for (int i = 0; i < 200 && proxy.active() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(proxy.active() == 2);
  const auto refused = round_trip(port, "CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n");
  CHECK(refused.rfind("HTTP/1.1 503", 0) == 0);
}
