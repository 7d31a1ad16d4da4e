// The process_* requests: a command beside the kernels, and the operations on a running one.
#include "protocol_detail.hpp"

#include "sandpit/files/base64.hpp"

#include <fmt/format.h>

namespace sandpit::session::protocol::detail {

using nlohmann::json;

namespace {

constexpr std::size_t k_max_args = 4096;
constexpr std::size_t k_max_input = 8u << 20;

std::optional<Failure> decode_selector(const json& m, Process& p) {
  if (m.contains("pid")) {
    if (!m["pid"].is_number_integer() || m["pid"].get<std::int64_t>() < 1 || m["pid"].get<std::int64_t>() > 4'194'304) {
      return bad("'pid' must be a process id");
    }
    p.pid = m["pid"].get<int>();
  }
  if (auto f = decode_string(m, "tag", p.tag, 256)) return f;
  if (p.pid < 0 && p.tag.empty()) return bad("name the process by 'pid' or 'tag'");
  return std::nullopt;
}

Result<Request> decode_start(const json& m, Request& r) {
  if (auto f = check_fields(m, {"argv", "env", "cwd", "stdin", "tag", "timeout_ms", "user", "command", "client"})) return *f;
  auto& p = r.process;
  if (!m.contains("argv") || !m["argv"].is_array() || m["argv"].empty() || m["argv"].size() > k_max_args) {
    return bad("process_start needs a non-empty 'argv' array");
  }
  std::size_t total = 0;
  for (const auto& arg : m["argv"]) {
    if (!arg.is_string()) return bad("'argv' must hold strings");
    p.argv.push_back(arg.get<std::string>());
    total += p.argv.back().size();
    if (p.argv.back().find('\0') != std::string::npos) return bad("an argument contains a NUL byte");
  }
  if (total > k_max_code) return bad(fmt::format("the arguments are longer than {} bytes", k_max_code));
  if (p.argv.front().empty() || p.argv.front().front() != '/') return bad("'argv[0]' must be an absolute path");
  if (auto f = decode_env(m, p.env)) return *f;
  if (auto f = decode_string(m, "cwd", p.cwd, 4096)) return *f;
  if (auto f = decode_string(m, "tag", p.tag, 256)) return *f;
  if (m.contains("stdin")) {
    if (!m["stdin"].is_boolean()) return bad("'stdin' must be true or false");
    p.stdin_pipe = m["stdin"].get<bool>();
  }
  if (m.contains("timeout_ms")) {
    if (!m["timeout_ms"].is_number_integer() || m["timeout_ms"].get<std::int64_t>() < 0) return bad("'timeout_ms' must be a number of milliseconds");
    p.timeout_ms = m["timeout_ms"].get<std::int64_t>();
  }
  r.execute.command = "serve";
  return decode_caller(m, r);
}

} // namespace

bool is_process_request(RequestType type) {
  switch (type) {
  case RequestType::process_start:
  case RequestType::process_connect:
  case RequestType::process_list:
  case RequestType::process_input:
  case RequestType::process_close_stdin:
  case RequestType::process_signal: return true;
  default: return false;
  }
}

Result<Request> decode_process(const json& m, RequestType type) {
  Request r;
  r.type = type;
  auto& p = r.process;
  switch (type) {
  case RequestType::process_start: return decode_start(m, r);
  case RequestType::process_list:
    if (auto f = check_fields(m, {})) return *f;
    return r;
  case RequestType::process_connect:
  case RequestType::process_close_stdin:
    if (auto f = check_fields(m, {"pid", "tag"})) return *f;
    if (auto f = decode_selector(m, p)) return *f;
    return r;
  case RequestType::process_input: {
    if (auto f = check_fields(m, {"pid", "tag", "data"})) return *f;
    if (auto f = decode_selector(m, p)) return *f;
    if (!m.contains("data") || !m["data"].is_string() || m["data"].get<std::string>().size() > k_max_input) {
      return bad("process_input needs base64 'data'");
    }
    auto bytes = files::decode_base64(m["data"].get<std::string>());
    if (!bytes) return bad("'data' is not base64");
    p.data = std::move(*bytes);
    return r;
  }
  case RequestType::process_signal:
    if (auto f = check_fields(m, {"pid", "tag", "signal"})) return *f;
    if (auto f = decode_selector(m, p)) return *f;
    if (!m.contains("signal") || !m["signal"].is_number_integer()) return bad("process_signal needs an integer 'signal'");
    p.signal = m["signal"].get<int>();
    return r;
  default: return bad("not a process request");
  }
}

void encode_process(const Request& r, json& m) {
  const auto& p = r.process;
  if (r.type == RequestType::process_start) {
    m["argv"] = p.argv;
    if (!p.env.empty()) m["env"] = p.env;
    if (!p.cwd.empty()) m["cwd"] = p.cwd;
    m["stdin"] = p.stdin_pipe;
    if (!p.tag.empty()) m["tag"] = p.tag;
    if (p.timeout_ms > 0) m["timeout_ms"] = p.timeout_ms;
    m["user"] = r.execute.user;
    m["command"] = r.execute.command;
    if (!r.execute.client.empty()) m["client"] = r.execute.client;
    return;
  }
  if (r.type == RequestType::process_list) return;
  if (p.pid >= 0) m["pid"] = p.pid;
  if (!p.tag.empty()) m["tag"] = p.tag;
  if (r.type == RequestType::process_input) m["data"] = files::encode_base64(p.data);
  if (r.type == RequestType::process_signal) m["signal"] = p.signal;
}

} // namespace sandpit::session::protocol::detail
