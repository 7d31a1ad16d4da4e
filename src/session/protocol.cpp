#include "sandpit/session/protocol.hpp"

#include "protocol_detail.hpp"

#include "sandpit/kernels/language.hpp"

#include "sandpit/sys/fd.hpp"

#include <array>
#include <cerrno>
#include <fmt/format.h>
#include <set>
#include <sys/socket.h>
#include <unistd.h>

namespace sandpit::session::protocol {

using nlohmann::json;

namespace detail {

Failure bad(std::string why) { return Failure{"protocol", 0, std::move(why)}; }

std::optional<Failure> check_fields(const json& message, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : message.items()) {
    bool known = key == "type";
    for (auto name : allowed) known = known || key == name;
    if (!known) return bad(fmt::format("unexpected field '{}'", key));
  }
  return std::nullopt;
}

std::optional<Failure> decode_env(const json& m, std::map<std::string, std::string>& env) {
  if (!m.contains("env")) return std::nullopt;
  if (!m["env"].is_object() || m["env"].size() > 1000) return bad("'env' must be an object of at most 1000 strings");
  for (const auto& [name, value] : m["env"].items()) {
    if (!value.is_string() || name.empty() || name.size() > 256 || value.get<std::string>().size() > 65536) {
      return bad("'env' must map short names to strings");
    }
    env[name] = value.get<std::string>();
  }
  return std::nullopt;
}

std::optional<Failure> decode_string(const json& m, const char* name, std::string& out, std::size_t max) {
  if (!m.contains(name)) return std::nullopt;
  if (!m[name].is_string() || m[name].get<std::string>().size() > max) return bad(fmt::format("'{}' must be a short string", name));
  out = m[name].get<std::string>();
  if (out.find('\n') != std::string::npos || out.find('\0') != std::string::npos) return bad(fmt::format("'{}' must be one line", name));
  return std::nullopt;
}

} // namespace detail

namespace {

using namespace detail;

constexpr std::array<std::pair<std::string_view, RequestType>, 15> k_types{{{"hello", RequestType::hello},
                                                                           {"execute", RequestType::execute},
                                                                           {"check", RequestType::check},
                                                                           {"interrupt", RequestType::interrupt},
                                                                           {"info", RequestType::info},
                                                                           {"restart", RequestType::restart},
                                                                           {"reset", RequestType::reset},
                                                                           {"shutdown", RequestType::shutdown},
                                                                           {"process_start", RequestType::process_start},
                                                                           {"process_connect", RequestType::process_connect},
                                                                           {"process_list", RequestType::process_list},
                                                                           {"process_input", RequestType::process_input},
                                                                           {"process_close_stdin", RequestType::process_close_stdin},
                                                                           {"process_signal", RequestType::process_signal},
                                                                           {"roots", RequestType::roots}}};

} // namespace

// Who asked: short one-line strings, and a command from the closed set.
Result<Request> detail::decode_caller(const json& m, Request& r) {
  auto& e = r.execute;
  for (auto [name, field] : {std::pair{"user", &e.user}, std::pair{"command", &e.command}, std::pair{"client", &e.client}}) {
    if (!m.contains(name)) continue;
    if (!m[name].is_string() || m[name].get<std::string>().size() > 256) return bad(fmt::format("'{}' must be a short string", name));
    *field = m[name].get<std::string>();
    if (field->find('\n') != std::string::npos) return bad(fmt::format("'{}' must be one line", name));
  }
  if (e.command != "exec" && e.command != "shell" && e.command != "repl" && e.command != "mcp" && e.command != "serve" && e.command != "install") {
    return bad(fmt::format("unknown command '{}'", e.command));
  }
  return r;
}

namespace {

// The fields execute and check share: a known language and bounded code.
std::optional<Failure> decode_code(const json& m, std::string_view type, Execute& e) {
  if (!m.contains("language") || !m["language"].is_string()) return bad(fmt::format("{} needs a string 'language'", type));
  e.language = m["language"].get<std::string>();
  if (e.language != "python" && e.language != "javascript" && e.language != "typescript" && e.language != "bash") {
    return bad(fmt::format("unknown language '{}'", e.language));
  }
  if (!m.contains("code") || !m["code"].is_string()) return bad(fmt::format("{} needs a string 'code'", type));
  e.code = m["code"].get<std::string>();
  if (e.code.size() > k_max_code) return bad(fmt::format("code is longer than {} bytes", k_max_code));
  return std::nullopt;
}

Result<Request> decode_check(const json& m) {
  if (auto f = check_fields(m, {"language", "code"})) return *f;
  Request r;
  r.type = RequestType::check;
  if (auto f = decode_code(m, "check", r.execute)) return *f;
  return r;
}

Result<Request> decode_execute(const json& m) {
  if (auto f = check_fields(m, {"language", "code", "filename", "timeout_ms", "wait", "user", "command", "client", "context", "env", "cwd", "packages"})) {
    return *f;
  }
  Request r;
  r.type = RequestType::execute;
  auto& e = r.execute;
  if (auto f = decode_code(m, "execute", e)) return *f;
  if (m.contains("filename")) {
    if (!m["filename"].is_string() || m["filename"].get<std::string>().size() > 4096) return bad("'filename' must be a short string");
    e.filename = m["filename"].get<std::string>();
    if (e.filename.find('\n') != std::string::npos) return bad("'filename' must be one line");
  }
  if (m.contains("timeout_ms")) {
    if (!m["timeout_ms"].is_number_integer() || m["timeout_ms"].get<std::int64_t>() <= 0 ||
        m["timeout_ms"].get<std::int64_t>() > 7LL * 24 * 3600 * 1000) {
      return bad("'timeout_ms' must be a positive number of milliseconds");
    }
    e.timeout_ms = m["timeout_ms"].get<std::int64_t>();
  }
  if (m.contains("wait")) {
    if (!m["wait"].is_boolean()) return bad("'wait' must be true or false");
    e.wait = m["wait"].get<bool>();
  }
  if (auto f = decode_string(m, "context", e.context, 128)) return *f;
  if (auto f = decode_string(m, "cwd", e.cwd, 4096)) return *f;
  if (auto f = decode_env(m, e.env)) return *f;
  if (m.contains("packages")) {
    if (!m["packages"].is_array() || m["packages"].size() > 64) return bad("'packages' must be a list of at most 64 names");
    for (const auto& p : m["packages"]) {
      if (!p.is_string() || p.get<std::string>().size() > 200) return bad("'packages' must hold short strings");
      e.packages.push_back(p.get<std::string>());
    }
  }
  return decode_caller(m, r);
}

} // namespace

std::string_view type_name(RequestType type) {
  for (const auto& [name, t] : k_types) {
    if (t == type) return name;
  }
  return "?";
}

Result<Request> decode_request(std::string_view line) {
  if (line.size() > k_max_line) return bad("message too long");
  json m = json::parse(line, nullptr, false);
  if (m.is_discarded()) return bad("not JSON");
  if (!m.is_object()) return bad("a message must be a JSON object");
  if (!m.contains("type") || !m["type"].is_string()) return bad("a message needs a string 'type'");
  const auto type = m["type"].get<std::string>();
  for (const auto& [name, t] : k_types) {
    if (name != type) continue;
    if (t == RequestType::execute) return decode_execute(m);
    if (t == RequestType::check) return decode_check(m);
    if (is_process_request(t)) return decode_process(m, t);
    Request r;
    r.type = t;
    if (t == RequestType::hello) {
      if (auto f = check_fields(m, {"protocol", "client"})) return *f;
      if (!m.contains("protocol") || !m["protocol"].is_number_integer()) return bad("hello needs an integer 'protocol'");
      r.protocol = m["protocol"].get<int>();
      if (m.contains("client")) {
        if (!m["client"].is_string() || m["client"].get<std::string>().size() > 256) return bad("'client' must be a short string");
        r.client = m["client"].get<std::string>();
      }
      return r;
    }
    if (t == RequestType::interrupt) {
      if (auto f = check_fields(m, {"reason"})) return *f;
      if (m.contains("reason")) {
        if (!m["reason"].is_string() || m["reason"].get<std::string>().size() > 512) return bad("'reason' must be a short string");
        r.reason = m["reason"].get<std::string>();
      }
      return r;
    }
    if (t == RequestType::restart) {
      if (auto f = check_fields(m, {"context", "language"})) return *f;
      if (auto f = decode_string(m, "context", r.context, 128)) return *f;
      if (auto f = decode_string(m, "language", r.language, 32)) return *f;
      if (!r.language.empty() && !kernels::parse_language(r.language)) return bad(fmt::format("unknown language '{}'", r.language));
      return r;
    }
    if (auto f = check_fields(m, {})) return *f;
    return r;
  }
  return bad(fmt::format("unknown request type '{}'", type));
}

nlohmann::json encode(const Request& r) {
  json m = {{"type", type_name(r.type)}};
  if (r.type == RequestType::hello) {
    m["protocol"] = r.protocol;
    m["client"] = r.client;
  } else if (r.type == RequestType::execute) {
    const auto& e = r.execute;
    m["language"] = e.language;
    m["code"] = e.code;
    m["filename"] = e.filename;
    m["timeout_ms"] = e.timeout_ms;
    m["wait"] = e.wait;
    m["user"] = e.user;
    m["command"] = e.command;
    if (!e.client.empty()) m["client"] = e.client;
    if (!e.context.empty()) m["context"] = e.context;
    if (!e.env.empty()) m["env"] = e.env;
    if (!e.cwd.empty()) m["cwd"] = e.cwd;
    if (!e.packages.empty()) m["packages"] = e.packages;
  } else if (is_process_request(r.type)) {
    encode_process(r, m);
  } else if (r.type == RequestType::restart && (!r.context.empty() || !r.language.empty())) {
    m["context"] = r.context;
    if (!r.language.empty()) m["language"] = r.language;
  } else if (r.type == RequestType::check) {
    m["language"] = r.execute.language;
    m["code"] = r.execute.code;
  } else if (r.type == RequestType::interrupt && !r.reason.empty()) {
    m["reason"] = r.reason;
  }
  return m;
}

std::optional<std::string> LineReader::take_line() {
  auto newline = m_buffer.find('\n');
  if (newline == std::string::npos) return std::nullopt;
  std::string line = m_buffer.substr(0, newline);
  m_buffer.erase(0, newline + 1);
  return line;
}

Result<bool> LineReader::fill(bool blocking) {
  char buf[65536];
  while (true) {
    // recv(MSG_DONTWAIT) rather than O_NONBLOCK: the same socket is written with blocking writes.
    ssize_t n = ::recv(m_fd, buf, sizeof buf, blocking ? 0 : MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (n < 0) return errno_failure("read");
    if (n == 0) {
      m_eof = true;
      return false;
    }
    m_buffer.append(buf, static_cast<std::size_t>(n));
    // The line being assembled (after the last newline) is what must stay bounded.
    auto last_newline = m_buffer.rfind('\n');
    auto partial = last_newline == std::string::npos ? m_buffer.size() : m_buffer.size() - last_newline - 1;
    if (partial > m_max) return bad("message too long");
    if (!blocking || m_buffer.find('\n') != std::string::npos) return true;
  }
}

Result<std::optional<std::string>> LineReader::next() {
  while (true) {
    if (auto line = take_line()) return line;
    if (m_eof) return std::optional<std::string>{};
    auto r = fill(true);
    if (!r) return r.failure();
  }
}

Result<std::optional<std::string>> LineReader::poll_next() {
  if (auto line = take_line()) return line;
  if (!m_eof) {
    auto r = fill(false);
    if (!r) return r.failure();
  }
  return take_line();
}

Result<void> send(int fd, const nlohmann::json& message) {
  return sys::write_all(fd, message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
}

} // namespace sandpit::session::protocol
