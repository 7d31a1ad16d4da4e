// process.Process: E2B's commands, run beside the kernels by the session daemon (its process_* requests), streamed as Connect messages.
#include "envd.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/base64.hpp"
#include "sandpit/kernels/language.hpp"
#include "sandpit/session/audit_trail.hpp"
#include "sandpit/session/profile.hpp"

#include <cctype>
#include <csignal>
#include <cstring>
#include <fmt/format.h>
#include <poll.h>

namespace sandpit::serve {
namespace {

using connect::Code;
using connect::RpcError;
using session::protocol::RequestType;
using Clock = std::chrono::steady_clock;

// What envd does without a Keepalive-Ping-Interval header.
constexpr int k_default_keepalive_s = 90;

// cwd as envd resolves it: "" is home, relative is under home, "~" expands.
std::string resolve_cwd(const std::string& cwd) {
  std::string path = cwd;
  if (path.empty() || path == "~") path = k_home;
  else if (path.rfind("~/", 0) == 0) path = std::string(k_home) + path.substr(1);
  else if (path.front() == '~') throw RpcError(Code::invalid_argument, "cannot expand user-specific home dir");
  else if (path.front() != '/') path = std::string(k_home) + "/" + path;
  return std::filesystem::path(path).lexically_normal().string();
}

struct Selector {
  int pid = -1;
  std::string tag;
};

Selector selector_of(const json& message) {
  const auto* process = connect::field(message, "process");
  if (process == nullptr || !process->is_object()) throw RpcError(Code::invalid_argument, "'process' must name a process by pid or tag");
  Selector s;
  if (auto pid = connect::int_field(*process, "pid")) s.pid = static_cast<int>(*pid);
  s.tag = connect::string_field(*process, "tag");
  if (s.pid < 0 && s.tag.empty()) throw RpcError(Code::invalid_argument, "'process' must name a process by pid or tag");
  return s;
}

void select(session::protocol::Request& r, const Selector& s) {
  r.process.pid = s.pid;
  r.process.tag = s.tag;
}

// Go's exec status text: "exit status 1", "signal: killed".
json end_event(const json& end) {
  json e = json::object();
  if (end.contains("signal")) {
    std::string name = ::strsignal(end.value("signal", SIGKILL));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    e["exitCode"] = -1;
    e["status"] = "signal: " + name;
    e["error"] = e["status"];
  } else {
    const int code = end.value("exit_code", 0);
    e["exited"] = true;
    e["status"] = fmt::format("exit status {}", code);
    if (code != 0) {
      e["exitCode"] = code;
      e["error"] = e["status"];
    }
  }
  return {{"event", {{"end", e}}}};
}

int keepalive_seconds(const http::Request& req) {
  const auto text = req.header("keepalive-ping-interval");
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos) return k_default_keepalive_s;
  const int s = std::stoi(text);
  return s > 0 ? s : k_default_keepalive_s;
}

// Forwards the daemon's events for one process as Connect messages until it ends,
// the deadline passes or the client hangs up (the process runs on).
void forward(session::Client& daemon, connect::Stream& stream, const http::Request& req, std::optional<std::int64_t> deadline_ms) {
  const auto started = Clock::now();
  const auto keepalive = std::chrono::seconds(keepalive_seconds(req));
  auto last = Clock::now();
  const int socket = stream.response().socket();
  bool check_daemon = true; // events may be buffered already (read together with the pid)
  while (true) {
    if (check_daemon) {
      while (auto event = daemon.next_event(0)) {
        const auto type = event->value("type", "");
        if (type == "data") {
          if (!stream.send({{"event", {{"data", {{event->value("stream", "stdout"), event->value("data", "")}}}}}})) return;
          last = Clock::now();
        } else if (type == "end") {
          if (event->value("timed_out", false)) return stream.end(Code::deadline_exceeded, "context deadline exceeded");
          stream.send(end_event(*event));
          return stream.end();
        } else if (type == "error") {
          return stream.end(Code::internal, event->value("message", "the session daemon failed"));
        }
      }
    }
    const auto now = Clock::now();
    if (deadline_ms && now - started >= std::chrono::milliseconds(*deadline_ms)) return stream.end(Code::deadline_exceeded, "context deadline exceeded");
    int wait = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(last + keepalive - now).count());
    if (deadline_ms) {
      wait = std::min<int>(wait, static_cast<int>(*deadline_ms - std::chrono::duration_cast<std::chrono::milliseconds>(now - started).count()));
    }
    pollfd fds[2] = {{daemon.fd(), POLLIN, 0}, {socket, POLLRDHUP, 0}};
    if (::poll(fds, 2, std::clamp(wait, 0, 1000)) < 0 && errno != EINTR) return;
    if ((fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) return; // the client left; the process does not
    check_daemon = (fds[0].revents & (POLLIN | POLLHUP)) != 0;
    if (!check_daemon && Clock::now() - last >= keepalive) {
      if (!stream.send({{"event", {{"keepalive", json::object()}}}})) return;
      last = Clock::now();
    }
  }
}

// The daemon's answer to a process_start/process_connect: the pid, or an RpcError.
int started_pid(session::Client& daemon, const std::string& cwd) {
  auto first = daemon.next_event(-1);
  if (first->value("type", "") == "process") return first->value("pid", -1);
  const auto code = first->value("code", "");
  const auto message = first->value("message", std::string("the command could not start"));
  if (code == "not_found") throw RpcError(Code::not_found, message);
  if (code == "invalid") throw RpcError(Code::invalid_argument, message);
  if (message.find("chdir") != std::string::npos) throw RpcError(Code::invalid_argument, fmt::format("cwd '{}' does not exist", cwd));
  throw RpcError(Code::internal, message);
}

std::string strings_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

void start(Service& service, Sandbox& sandbox, const http::Request& req, http::Response& res) {
  const auto message = connect::request_message(req);
  if (connect::field(message, "pty") != nullptr) throw RpcError(Code::unimplemented, "a PTY is not supported by sandpit: run the command without one");
  const auto* process = connect::field(message, "process");
  if (process == nullptr || !process->is_object()) throw RpcError(Code::invalid_argument, "'process' is required");
  const auto cmd = connect::string_field(*process, "cmd");
  if (cmd.empty()) throw RpcError(Code::invalid_argument, "'process.cmd' is required");
  std::vector<std::string> argv = {cmd};
  if (const auto* args = connect::field(*process, "args")) {
    if (!args->is_array()) throw RpcError(Code::invalid_argument, "'process.args' must be a list of strings");
    for (const auto& a : *args) {
      if (!a.is_string()) throw RpcError(Code::invalid_argument, "'process.args' must be a list of strings");
      argv.push_back(a.get<std::string>());
    }
  }
  // A bare command name is looked up on the sandbox's PATH, as envd's shell does.
  if (cmd.front() != '/') argv.insert(argv.begin(), {"/bin/sh", "-c", "exec \"$@\"", "sh"});
  std::map<std::string, std::string> env;
  if (const auto* envs = connect::field(*process, "envs")) {
    if (!envs->is_object()) throw RpcError(Code::invalid_argument, "'process.envs' must map names to strings");
    for (const auto& [k, v] : envs->items()) {
      if (!v.is_string()) throw RpcError(Code::invalid_argument, "'process.envs' must map names to strings");
      env[k] = v.get<std::string>();
    }
  }
  (void)rpc_user(req);
  const auto cwd = resolve_cwd(connect::string_field(*process, "cwd"));
  const auto* stdin_field = connect::field(message, "stdin");
  const bool stdin_pipe = stdin_field == nullptr || (stdin_field->is_boolean() && stdin_field->get<bool>()); // envd's default: a pipe

  const auto caller = service.caller(sandbox, req);
  session::ExecRequest asked;
  asked.language = kernels::Language::bash;
  asked.code = argv.size() >= 3 && (argv[1] == "-c" || argv[1] == "-l") ? argv.back() : strings_join(argv);
  try {
    session::check_env(env);
    for (const auto& notice : session::recover_lost(service.config(), sandbox.workspace)) {
      fmt::print(stderr, "sandpit serve: sandbox {}: {}\n", sandbox.id, notice);
    }
    (void)session::admit(service.config(), caller, sandbox.workspace, asked);
  } catch (const Error& e) {
    throw RpcError(e.code() == ExitCode::usage ? Code::invalid_argument : Code::permission_denied, e.subject() + ": " + e.reason());
  }
  session::protocol::Request r;
  r.type = RequestType::process_start;
  r.process.argv = argv;
  r.process.env = env;
  r.process.cwd = cwd;
  r.process.stdin_pipe = stdin_pipe;
  r.process.tag = connect::string_field(message, "tag");
  const auto deadline = connect::timeout_ms(req);
  r.process.timeout_ms = deadline.value_or(0); // envd kills the command when the call's deadline passes
  r.execute.user = caller.user;
  r.execute.command = caller.command;
  r.execute.client = caller.client;
  auto daemon = service.sandboxes().client(sandbox);
  daemon.send(r);
  const int pid = started_pid(daemon, cwd);
  connect::Stream stream(res);
  if (!stream.send({{"event", {{"start", {{"pid", pid}}}}}})) return;
  // The daemon enforces the deadline itself (and reports timed_out): no local deadline here.
  forward(daemon, stream, req, std::nullopt);
}

void attach(Service& service, Sandbox& sandbox, const http::Request& req, http::Response& res) {
  const auto s = selector_of(connect::request_message(req));
  session::protocol::Request r;
  r.type = RequestType::process_connect;
  select(r, s);
  auto daemon = service.sandboxes().client(sandbox);
  daemon.send(r);
  const int pid = started_pid(daemon, "");
  connect::Stream stream(res);
  if (!stream.send({{"event", {{"start", {{"pid", pid}}}}}})) return;
  // Here the deadline ends only this stream: the process runs on.
  forward(daemon, stream, req, connect::timeout_ms(req));
}

json unary_call(Service& service, Sandbox& sandbox, session::protocol::Request r) {
  auto daemon = service.sandboxes().client(sandbox);
  daemon.send(r);
  auto reply = daemon.next_event(-1);
  if (reply->value("type", "") != "error") return *reply;
  const auto code = reply->value("code", "");
  throw RpcError(code == "not_found" ? Code::not_found : Code::internal, reply->value("message", ""));
}

int signal_of(const json& message) {
  const auto* f = connect::field(message, "signal");
  if (f != nullptr && f->is_string()) {
    const auto& name = f->get_ref<const std::string&>();
    if (name == "SIGNAL_SIGKILL") return SIGKILL;
    if (name == "SIGNAL_SIGTERM") return SIGTERM;
  } else if (f != nullptr && f->is_number_integer() && (f->get<int>() == SIGKILL || f->get<int>() == SIGTERM)) {
    return f->get<int>();
  }
  throw RpcError(Code::unimplemented, fmt::format("invalid signal: {}", f == nullptr ? "SIGNAL_UNSPECIFIED" : f->dump()));
}

} // namespace

void process_service(Service& service, const std::shared_ptr<Sandbox>& sandbox, const std::string& method, http::Request& req, http::Response& res) {
  auto& s = *sandbox;
  if (method == "Start") return start(service, s, req, res);
  if (method == "Connect") return attach(service, s, req, res);
  session::protocol::Request r;
  if (method == "List") {
    r.type = RequestType::process_list;
    json out = json::array();
    for (const auto& p : unary_call(service, s, r).value("processes", json::array())) {
      auto argv = p.value("argv", std::vector<std::string>{});
      json config = {{"cmd", argv.empty() ? "" : argv[0]}, {"args", std::vector<std::string>(argv.begin() + (argv.empty() ? 0 : 1), argv.end())},
                     {"envs", p.value("env", json::object())}};
      if (!p.value("cwd", "").empty()) config["cwd"] = p.value("cwd", "");
      json info = {{"config", config}, {"pid", p.value("pid", 0)}};
      if (!p.value("tag", "").empty()) info["tag"] = p.value("tag", "");
      out.push_back(info);
    }
    return connect::unary_ok(res, {{"processes", out}});
  }
  const auto message = connect::request_message(req);
  select(r, selector_of(message));
  if (method == "SendInput") {
    const auto* input = connect::field(message, "input");
    if (input == nullptr || !input->is_object()) throw RpcError(Code::invalid_argument, "'input' is required");
    if (connect::field(*input, "pty") != nullptr) throw RpcError(Code::internal, "error writing to tty: tty not assigned to process");
    auto bytes = files::decode_base64(connect::string_field(*input, "stdin"));
    if (!bytes) throw RpcError(Code::invalid_argument, "'input.stdin' must be base64");
    r.type = RequestType::process_input;
    r.process.data = std::move(*bytes);
  } else if (method == "CloseStdin") {
    r.type = RequestType::process_close_stdin;
  } else if (method == "SendSignal") {
    r.type = RequestType::process_signal;
    r.process.signal = signal_of(message);
  } else if (method == "Update" || method == "StreamInput") {
    throw RpcError(Code::unimplemented, method == "Update" ? "a PTY is not supported by sandpit" : "StreamInput is not supported by sandpit: use SendInput");
  } else {
    throw RpcError(Code::unimplemented, fmt::format("process.Process/{} does not exist", method));
  }
  (void)unary_call(service, s, r);
  connect::unary_ok(res, json::object());
}

} // namespace sandpit::serve
