#include "daemon_process.hpp"

#include "sandpit/audit/record.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/files/base64.hpp"
#include "sandpit/session/admission.hpp"
#include "sandpit/session/audit_trail.hpp"
#include "sandpit/util/fault.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/wait.h>

namespace sandpit::session {
namespace {

using nlohmann::json;
using protocol::RequestType;

// The shell command a process runs, as its audit record hashes it: what follows
// `-c` (E2B runs `/bin/bash -l -c CMD`), else the whole argv.
std::string command_text(const std::vector<std::string>& argv) {
  for (std::size_t i = 1; i + 1 < argv.size(); ++i) {
    if (argv[i] == "-c" || argv[i] == "-lc") return argv[i + 1];
  }
  std::string text;
  for (const auto& a : argv) text += (text.empty() ? "" : " ") + a;
  return text;
}

json end_event(const ProcessEvent& end) {
  json m = {{"type", "end"}, {"timed_out", end.timed_out}};
  if (WIFEXITED(end.status)) {
    m["exit_code"] = WEXITSTATUS(end.status);
  } else {
    m["exit_code"] = -1;
    m["signal"] = WIFSIGNALED(end.status) ? WTERMSIG(end.status) : SIGKILL;
  }
  return m;
}

// The audit record of a command: its intent before it starts (throws when the log cannot take it).
std::shared_ptr<AuditedAction> command_intent(const config::Config& config, const Workspace& workspace, const protocol::Request& r,
                                              const std::string& session_name, audit::Record& record) {
  ExecRequest asked;
  asked.language = kernels::Language::bash;
  asked.code = command_text(r.process.argv);
  record = exec_record(Caller{r.execute.user, r.execute.command, r.execute.client}, workspace, asked);
  record.session = session_name;
  record.extra["process"] = true;
  if (!r.process.tag.empty()) record.extra["tag"] = r.process.tag;
  return std::make_shared<AuditedAction>(config, workspace, record);
}

// Its outcome, written when it ends.
ProcessTable::EndHook audit_hook(std::shared_ptr<AuditedAction> action, audit::Record record) {
  return [action, record](const ProcessInfo& info, const ProcessEvent& end, std::chrono::milliseconds took) mutable {
    record.extra["pid"] = info.pid;
    record.duration_ms = took.count();
    record.timed_out = end.timed_out;
    if (WIFEXITED(end.status)) {
      record.exit_code = WEXITSTATUS(end.status);
    } else {
      const int sig = WIFSIGNALED(end.status) ? WTERMSIG(end.status) : SIGKILL;
      record.exit_code = 128 + sig;
      record.error = fmt::format("Killed: by signal {}", sig);
    }
    if (end.timed_out) record.error = "TimeoutError: the command ran past its timeout and was killed";
    record.success = record.exit_code == 0;
    (void)action->complete(record);
  };
}

// Forwards `sub`'s events to the client until the process ends or the client leaves.
void stream(ProcessTable& table, pid_t pid, int fd, protocol::LineReader& reader, const std::shared_ptr<Subscription>& sub,
            const std::atomic<bool>& stopping) {
  while (!stopping) {
    pollfd fds[2] = {{sub->fd(), POLLIN, 0}, {fd, POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) break;
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      // Nothing is asked of the client mid-stream: input here is a hang-up (or noise, ignored).
      auto line = reader.poll_next();
      if (!line || reader.eof()) break;
    }
    if (sub->overflowed()) {
      (void)protocol::send(fd, error_message("overflow", "the client did not read the process's output fast enough; it was detached", 1));
      break;
    }
    for (auto& event : sub->take()) {
      if (event.kind == ProcessEvent::Kind::end) {
        (void)protocol::send(fd, end_event(event));
        return;
      }
      const char* name = event.kind == ProcessEvent::Kind::stdout_data ? "stdout" : "stderr";
      if (!protocol::send(fd, {{"type", "data"}, {"stream", name}, {"data", files::encode_base64(event.data)}})) {
        table.detach(pid, sub.get());
        return;
      }
    }
  }
  table.detach(pid, sub.get()); // the process runs on without this client
}

json answer(ProcessTable::Outcome outcome, const std::string& why, pid_t pid, const std::string& tag) {
  switch (outcome) {
  case ProcessTable::Outcome::ok: return {{"type", "ok"}};
  case ProcessTable::Outcome::not_found:
    return error_message("not_found", pid >= 0 ? fmt::format("process with pid {} not found", pid) : fmt::format("process with tag '{}' not found", tag), 1, "process");
  case ProcessTable::Outcome::failed: return error_message("failed", why, 1, "process");
  }
  return {{"type", "ok"}};
}

} // namespace

void serve_process_request(Session& session, const config::Config& config, const Workspace& workspace, int fd,
                           protocol::LineReader& reader, const protocol::Request& r, const std::atomic<bool>& stopping) {
  auto& table = session.processes();
  const auto& p = r.process;
  std::string why;
  switch (r.type) {
  case RequestType::process_start: {
    auto sub = std::make_shared<Subscription>();
    pid_t pid = -1;
    std::shared_ptr<AuditedAction> action;
    audit::Record record;
    try {
      action = command_intent(config, workspace, r, session.name(), record);
      check_env(p.env);
      auto spec = session.process_spec(p.argv, p.env, p.cwd);
      spec.stdin_pipe = p.stdin_pipe;
      spec.tag = p.tag;
      spec.timeout = std::chrono::milliseconds(p.timeout_ms);
      pid = table.start(spec, sub, audit_hook(action, record));
    } catch (const Error& e) {
      if (action && !action->completed()) {
        record.exit_code = static_cast<int>(e.code());
        record.error = e.subject() + ": " + e.reason();
        (void)action->complete(record);
      }
      (void)protocol::send(fd, error_message(e.code() == ExitCode::usage ? "invalid" : "setup", e.reason(), static_cast<int>(e.code()), e.subject()));
      return;
    }
    fault::reached("command");
    (void)protocol::send(fd, {{"type", "process"}, {"pid", pid}});
    stream(table, pid, fd, reader, sub, stopping);
    return;
  }
  case RequestType::process_connect: {
    auto sub = std::make_shared<Subscription>();
    pid_t found = -1;
    if (!table.attach(p.pid, p.tag, sub, found)) {
      (void)protocol::send(fd, answer(ProcessTable::Outcome::not_found, "", p.pid, p.tag));
      return;
    }
    (void)protocol::send(fd, {{"type", "process"}, {"pid", found}});
    stream(table, found, fd, reader, sub, stopping);
    return;
  }
  case RequestType::process_list: {
    json list = json::array();
    for (const auto& info : table.list()) {
      list.push_back({{"pid", info.pid}, {"tag", info.tag}, {"argv", info.argv}, {"env", info.env}, {"cwd", info.cwd}});
    }
    (void)protocol::send(fd, {{"type", "processes"}, {"processes", list}});
    return;
  }
  case RequestType::process_input: (void)protocol::send(fd, answer(table.write_stdin(p.pid, p.tag, p.data, why), why, p.pid, p.tag)); return;
  case RequestType::process_close_stdin: (void)protocol::send(fd, answer(table.close_stdin(p.pid, p.tag, why), why, p.pid, p.tag)); return;
  case RequestType::process_signal: (void)protocol::send(fd, answer(table.signal(p.pid, p.tag, p.signal, why), why, p.pid, p.tag)); return;
  default: (void)protocol::send(fd, error_message("protocol", "not a process request", 2)); return;
  }
}

} // namespace sandpit::session
