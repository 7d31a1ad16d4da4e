#include "sandpit/session/session.hpp"

#include "run_loop.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/kernels/drivers.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandpit::session {
namespace {

using kernels::Language;
using Clock = std::chrono::steady_clock;

// The cell frame the drivers read: "exec <nbytes> <filename>\n" + source.
std::string frame(const ExecRequest& request) {
  return fmt::format("exec {} {}\n{}", request.code.size(), request.filename, request.code);
}

// bash reads its script from fd 3 (a sealed memfd); closing fd 3 first keeps it
// out of the script's children without shifting line numbers.
Result<sys::Fd> script_memfd(const std::string& code) {
  sys::Fd fd(::memfd_create("sandpit-cell", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return errno_failure("memfd_create");
  if (auto r = sys::write_all(fd.get(), "exec 3<&-; " + code); !r) return r.failure();
  ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  ::lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

std::string signal_text(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return fmt::format("signal {} (SIG{})", sig, abbrev != nullptr ? abbrev : "?");
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void finish(ExecResult& r, const RunOutcome& o, const config::Limits& limits, const jail::CgroupUsage& usage,
            const ExecRequest& request) {
  const bool has_driver = request.language != Language::bash;
  if (o.driver_result) {
    const auto& d = *o.driver_result;
    r.exit_code = d.value("exit_code", 1);
    if (d.contains("value") && d["value"].is_object()) r.result = d["value"];
    if (d.contains("error") && d["error"].is_object()) {
      const auto& e = d["error"];
      r.error = ErrorInfo{e.value("name", ""), e.value("value", ""), e.value("traceback", "")};
    }
  }
  if (o.wait_status && (!has_driver || !o.driver_result || status_code(*o.wait_status) != 0)) {
    if (r.exit_code == 0) r.exit_code = status_code(*o.wait_status);
    if (WIFSIGNALED(*o.wait_status) && !r.error) {
      r.error = ErrorInfo{"Killed", fmt::format("the {} process was killed by {}", kernels::name_of(request.language),
                                                signal_text(WTERMSIG(*o.wait_status))), ""};
    }
  }
  if (usage.oom_killed) {
    r.error = ErrorInfo{"OutOfMemory", fmt::format("the sandbox ran out of memory (limit {})", units::format_size(limits.memory)), ""};
    if (r.exit_code == 0) r.exit_code = 137;
  }
  if (o.output_limit) {
    const char* which = r.stdout_truncated ? "stdout" : "stderr";
    r.error = ErrorInfo{"OutputLimitExceeded",
                        fmt::format("{} exceeded {}; the run was stopped", which, units::format_size(limits.output)), ""};
    if (r.exit_code == 0) r.exit_code = 1;
  }
  if (o.timed_out) {
    r.timed_out = true;
    r.exit_code = 124;
    r.error = ErrorInfo{"Timeout", fmt::format("the execution exceeded the {} timeout", units::format_duration(request.timeout)), ""};
  }
  if (!o.wait_status && !o.timed_out && !r.error) {
    r.error = ErrorInfo{"SandboxLost", "the sandbox ended before the execution finished", ""};
    r.exit_code = 1;
  }
  r.success = r.exit_code == 0 && !r.error && !r.timed_out;
}

} // namespace

Session::Session(const config::Config& config, std::unique_ptr<jail::Jail> jail, std::string name)
    : m_config(config), m_jail(std::move(jail)), m_name(std::move(name)) {}

std::unique_ptr<Session> Session::start(const config::Config& config, const Workspace& workspace) {
  workspace.ensure_created();
  if (::geteuid() == 0) {
    // As root the sandbox user is the host's nobody: give it the workspace files.
    if (::chown(workspace.files_dir.c_str(), jail::k_root_mode_host_id, jail::k_root_mode_host_id) != 0) {
      throw Error(ExitCode::sandbox_setup, "chown " + workspace.files_dir.string(), std::strerror(errno));
    }
  }
  auto spec = jail::make_spec(config, workspace.files_dir.string());
  auto jail = jail::Jail::start(spec);
  if (!jail) {
    const auto& f = jail.failure();
    std::string why = f.message();
    if (f.what == "clone" && (f.err == EPERM || f.err == ENOSPC || f.err == EINVAL || f.err == EUSERS)) {
      why += " (unprivileged user namespaces may be disabled here: see `sandpit doctor`, "
             "sysctl kernel.unprivileged_userns_clone and user.max_user_namespaces)";
    }
    throw Error(ExitCode::sandbox_setup, "sandbox setup failed", why);
  }
  return std::unique_ptr<Session>(new Session(config, std::move(jail).value(), "ws-" + workspace.id));
}

std::vector<std::string> Session::command_for(Language language) const {
  auto it = m_config.language_commands.find(std::string(kernels::name_of(language)));
  std::vector<std::string> argv = it != m_config.language_commands.end() ? it->second : std::vector<std::string>{};
  switch (language) {
  case Language::python: argv.insert(argv.end(), {"-c", std::string(kernels::python_driver())}); break;
  case Language::javascript: argv.insert(argv.end(), {"-e", std::string(kernels::node_driver())}); break;
  case Language::bash: argv.push_back("/dev/fd/3"); break;
  }
  return argv;
}

ExecResult Session::execute(const ExecRequest& request, OutputSink& sink) {
  auto started = Clock::now();
  ExecResult result;
  result.language = request.language;
  result.session = m_name;
  result.execution_count = ++m_execution_count;

  auto fail = [](const Failure& f) { return Error(ExitCode::sandbox_setup, "start execution", f.message()); };
  auto out = sys::make_pipe();
  auto err = sys::make_pipe();
  if (!out || !err) throw fail(errno_failure("pipe"));
  sys::Fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  RunChannels channels{std::move(out->first), std::move(err->first), {}};
  sys::Fd third; // fd 3 of the process: the driver socket, or bash's script
  if (request.language == Language::bash) {
    third = check(script_memfd(request.code), ExitCode::sandbox_setup, "start execution");
  } else {
    auto ctl = sys::make_socketpair(SOCK_STREAM);
    if (!ctl) throw fail(ctl.failure());
    channels.ctl = std::move(ctl->first);
    third = std::move(ctl->second);
  }
  jail::SpawnRequest spawn{command_for(request.language), sandbox_environment(), "/workspace",
                           {null_fd.get(), out->second.get(), err->second.get(), third.get()}};
  auto pid = m_jail->spawn(spawn);
  out->second.reset();
  err->second.reset();
  third.reset();
  if (!pid) throw Error(ExitCode::sandbox_setup, "start " + std::string(kernels::name_of(request.language)), pid.failure().message());
  if (channels.ctl.valid()) {
    // One cell, then end of input: the driver exits once the cell and its event loop are done.
    (void)sys::write_all(channels.ctl.get(), frame(request));
    ::shutdown(channels.ctl.get(), SHUT_WR);
  }
  for (int fd : {channels.out.get(), channels.err.get(), channels.ctl.get()}) {
    if (fd >= 0) (void)sys::set_nonblocking(fd);
  }
  auto outcome = run_loop(*m_jail, *pid, channels, started + request.timeout, m_config.limits.output, sink, result);
  finish(result, outcome, m_config.limits, m_jail->usage(), request);
  result.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return result;
}

} // namespace sandpit::session
