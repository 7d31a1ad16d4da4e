// The egress proxy: the one way out of a jail that has network.allow (or a package install). It runs outside the
// jail, takes HTTP proxy requests on a listening socket that lives in the jail's own loopback, lets through only
// the hosts its allow list names (checked before connecting, by name and, for names, by the addresses they
// resolve to), and reports every connection.
#pragma once

#include "sandpit/sys/fd.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace sandpit::proxy {

// One allow rule, as written: "example.com", "*.example.org", "10.1.2.3:8080", "[::1]:8080".
// Without a port a rule allows 80 and 443.
struct Rule {
  std::string text;
  std::string host;      // lowercase; for "*.example.org": "example.org"
  bool wildcard = false; // subdomains only, not the domain itself
  bool address = false;  // an IP literal: the only way to reach a private or loopback address
  int port = 0;          // 0: 80 and 443
};

class AllowList {
public:
  AllowList() = default;
  // Throws Error(usage) naming the first rule that is not a host, a wildcard or an address (with an optional port).
  static AllowList parse(const std::vector<std::string>& rules);
  // The rule that lets `host`:`port` through, or nullptr.
  const Rule* match(std::string_view host, int port) const;
  // Whether an address rule names `address` and `port`.
  bool names_address(const sockaddr* address, int port) const;
  const std::vector<Rule>& rules() const { return m_rules; }
  bool empty() const { return m_rules.empty(); }

private:
  std::vector<Rule> m_rules;
};

// Whether an address is on the public internet: not loopback, private, link-local, CGNAT,
// unique-local, multicast or unspecified (IPv4, IPv6 and IPv4-mapped IPv6).
bool is_public(const sockaddr* address);
std::string address_text(const sockaddr* address);

// What one proxied connection did, for its audit record.
struct Connection {
  std::string channel; // "code" or "install"
  std::string method;  // "CONNECT", "GET", ...
  std::string host;
  int port = 0;
  bool allowed = false;
  std::string rule;    // the rule that let it through
  std::string refused; // why it was refused or failed ("" when it went through)
  std::string address; // where it connected
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  std::chrono::milliseconds took{0};
};

struct Options {
  AllowList allow;
  std::string channel = "code";
  std::size_t max_connections = 64;             // more are answered 503 and closed
  std::chrono::seconds head_timeout{30};        // a request head must arrive within this
  std::chrono::seconds idle_timeout{300};       // a tunnel with no bytes either way for this long is closed
  std::function<void(const Connection&)> on_close; // called on the connection's thread
};

class Proxy {
public:
  // Serves `listener` (a listening TCP socket) on threads of its own until destroyed.
  Proxy(sys::Fd listener, Options options);
  ~Proxy(); // stops accepting, ends every connection, waits for their threads
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  std::size_t active() const;

private:
  void accept_loop();
  void serve(int client);

  Options m_options;
  sys::Fd m_listener;
  sys::FdPair m_wake;
  mutable std::mutex m_mutex;
  std::condition_variable m_idle;
  std::vector<int> m_clients; // open client sockets, shut down on stop
  std::size_t m_threads = 0;
  std::atomic<bool> m_stopping{false};
  std::thread m_acceptor;
};

} // namespace sandpit::proxy
