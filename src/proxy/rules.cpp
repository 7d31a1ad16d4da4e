// The allow list: parsing rules, matching a requested host and port, and telling public addresses from the rest.
#include "sandpit/proxy/egress.hpp"

#include "sandpit/core/error.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <fmt/format.h>
#include <netinet/in.h>

namespace sandpit::proxy {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool valid_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.' || host.find("..") != std::string_view::npos) return false;
  return std::all_of(host.begin(), host.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'; });
}

bool is_address(const std::string& host) {
  in6_addr six{};
  in_addr four{};
  return ::inet_pton(AF_INET, host.c_str(), &four) == 1 || ::inet_pton(AF_INET6, host.c_str(), &six) == 1;
}

bool ports_match(int rule_port, int port) { return rule_port == 0 ? (port == 80 || port == 443) : rule_port == port; }

// 10/8, 172.16/12, 192.168/16, 127/8, 169.254/16, 100.64/10, 0/8, 224/4 and up.
bool private_v4(std::uint32_t a) {
  const auto b0 = a >> 24, b1 = (a >> 16) & 0xff;
  return b0 == 10 || b0 == 127 || b0 == 0 || b0 >= 224 || (b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168) ||
         (b0 == 169 && b1 == 254) || (b0 == 100 && (b1 & 0xc0) == 64);
}

} // namespace

AllowList AllowList::parse(const std::vector<std::string>& rules) {
  AllowList out;
  for (const auto& text : rules) {
    Rule rule;
    rule.text = text;
    std::string host = text;
    // "[::1]:8080", "[::1]", "host:443", "1.2.3.4:80"
    if (!host.empty() && host.front() == '[') {
      const auto close = host.find(']');
      if (close == std::string::npos) throw Error(ExitCode::usage, "network.allow", fmt::format("'{}' has no closing ']'", text));
      const auto rest = host.substr(close + 1);
      host = host.substr(1, close - 1);
      if (!rest.empty()) {
        if (rest.front() != ':') throw Error(ExitCode::usage, "network.allow", fmt::format("'{}': expected ':PORT' after ']'", text));
        try {
          rule.port = std::stoi(rest.substr(1));
        } catch (...) {
          rule.port = -1;
        }
      }
    } else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
      try {
        std::size_t used = 0;
        rule.port = std::stoi(host.substr(colon + 1), &used);
        if (used != host.size() - colon - 1) rule.port = -1;
      } catch (...) {
        rule.port = -1;
      }
      host = host.substr(0, colon);
    }
    if (rule.port < 0 || rule.port > 65535) throw Error(ExitCode::usage, "network.allow", fmt::format("'{}': the port must be a number up to 65535", text));
    host = lower(host);
    if (host.rfind("*.", 0) == 0) {
      rule.wildcard = true;
      host = host.substr(2);
    }
    rule.address = is_address(host);
    if (!rule.address && !valid_name(host)) {
      throw Error(ExitCode::usage, "network.allow",
                  fmt::format("'{}' is not a host name, a '*.' wildcard or an IP address (with an optional ':PORT')", text));
    }
    if (rule.address && rule.wildcard) throw Error(ExitCode::usage, "network.allow", fmt::format("'{}': an address cannot be a wildcard", text));
    rule.host = host;
    out.m_rules.push_back(std::move(rule));
  }
  return out;
}

const Rule* AllowList::match(std::string_view requested, int port) const {
  std::string host = lower(requested);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  while (!host.empty() && host.back() == '.') host.pop_back();
  for (const auto& rule : m_rules) {
    if (!ports_match(rule.port, port)) continue;
    if (rule.wildcard) {
      if (host.size() > rule.host.size() + 1 && host.compare(host.size() - rule.host.size(), std::string::npos, rule.host) == 0 &&
          host[host.size() - rule.host.size() - 1] == '.') {
        return &rule;
      }
    } else if (host == rule.host) {
      return &rule;
    }
  }
  return nullptr;
}

bool AllowList::names_address(const sockaddr* address, int port) const {
  const auto text = address_text(address);
  return std::any_of(m_rules.begin(), m_rules.end(), [&](const Rule& r) { return r.address && r.host == text && ports_match(r.port, port); });
}

bool is_public(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return !private_v4(ntohl(in->sin_addr.s_addr));
  }
  if (address->sa_family != AF_INET6) return false;
  const auto& a = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a) || IN6_IS_ADDR_V4COMPAT(&a)) {
    std::uint32_t v4;
    std::memcpy(&v4, &a.s6_addr[12], 4);
    return !private_v4(ntohl(v4));
  }
  const bool unique_local = (a.s6_addr[0] & 0xfe) == 0xfc;
  const bool nat64 = a.s6_addr[0] == 0x00 && a.s6_addr[1] == 0x64 && a.s6_addr[2] == 0xff && a.s6_addr[3] == 0x9b;
  return !(IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LINKLOCAL(&a) || IN6_IS_ADDR_SITELOCAL(&a) ||
           IN6_IS_ADDR_MULTICAST(&a) || unique_local || nat64);
}

std::string address_text(const sockaddr* address) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, buf, sizeof buf);
  } else if (address->sa_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) ::inet_ntop(AF_INET, &a.s6_addr[12], buf, sizeof buf);
    else ::inet_ntop(AF_INET6, &a, buf, sizeof buf);
  }
  return buf;
}

} // namespace sandpit::proxy
