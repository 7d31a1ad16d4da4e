#include "sandpit/session/session.hpp"

#include "result.hpp"
#include "run_loop.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/kernels/drivers.hpp"
#include "sandpit/util/trace.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

[[noreturn]] void start_failed(Language language, const Failure& f) {
  throw Error(ExitCode::sandbox_setup, "start " + std::string(kernels::name_of(language)), f.message());
}

// Spawns `argv` in the jail with fresh stdout/stderr pipes and `third` as fd 3.
struct Spawned {
  pid_t pid;
  sys::Fd out, err;
};
Spawned spawn_process(jail::Jail& jail, Language language, std::vector<std::string> argv, int third) {
  auto out = sys::make_pipe();
  auto err = sys::make_pipe();
  if (!out || !err) start_failed(language, errno_failure("pipe"));
  sys::Fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  jail::SpawnRequest spawn{std::move(argv), sandbox_environment(), "/workspace",
                           {null_fd.get(), out->second.get(), err->second.get(), third}};
  auto pid = jail.spawn(spawn);
  if (!pid) start_failed(language, pid.failure());
  (void)sys::set_nonblocking(out->first.get());
  (void)sys::set_nonblocking(err->first.get());
  return Spawned{*pid, std::move(out->first), std::move(err->first)};
}

} // namespace

Session::Session(const config::Config& config, std::unique_ptr<jail::Jail> jail, std::string name, const Workspace& workspace,
                 Lifetime lifetime)
    : m_config(config), m_jail(std::move(jail)), m_name(std::move(name)), m_workspace(workspace.host_dir.string()),
      m_files_dir(workspace.files_dir), m_lifetime(lifetime), m_started(Clock::now()) {}

std::unique_ptr<Session> Session::start(const config::Config& config, const Workspace& workspace, Lifetime lifetime) {
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
  return std::unique_ptr<Session>(
      new Session(config, std::move(jail).value(), "ws-" + workspace.id, workspace, lifetime));
}

std::vector<std::string> Session::command_for(Language language) const {
  auto it = m_config.language_commands.find(std::string(kernels::name_of(language)));
  std::vector<std::string> argv = it != m_config.language_commands.end() ? it->second : std::vector<std::string>{};
  switch (language) {
  case Language::python: argv.insert(argv.end(), {"-c", std::string(kernels::python_driver())}); break;
  // --expose-internals: the driver uses Node's own REPL helpers (acorn, top-level await).
  case Language::javascript: argv.insert(argv.end(), {"--expose-internals", "-e", std::string(kernels::node_driver())}); break;
  case Language::bash: argv.push_back("/dev/fd/3"); break;
  }
  return argv;
}

void Session::reap_dead_kernels() {
  m_jail->drain_events();
  for (auto it = m_kernels.begin(); it != m_kernels.end();) {
    if (auto status = m_jail->take_exit(it->second.pid)) {
      m_lost[it->first] = fmt::format("it exited with status {} while idle", status_code(*status));
      it = m_kernels.erase(it);
    } else {
      ++it;
    }
  }
}

Session::Kernel& Session::kernel_for(Language language, OutputSink& sink, ExecResult& result) {
  if (auto it = m_kernels.find(language); it != m_kernels.end()) return it->second;
  auto ctl = sys::make_socketpair(SOCK_STREAM);
  if (!ctl) start_failed(language, ctl.failure());
  auto spawned = spawn_process(*m_jail, language, command_for(language), ctl->second.get());
  (void)sys::set_nonblocking(ctl->first.get());
  Kernel& kernel = m_kernels[language];
  kernel.pid = spawned.pid;
  kernel.out = std::move(spawned.out);
  kernel.err = std::move(spawned.err);
  kernel.ctl = std::move(ctl->first);
  if (auto lost = m_lost.find(language); lost != m_lost.end()) {
    std::string notice = fmt::format("sandpit: a new {} kernel was started because {}; earlier state is lost\n",
                                     kernels::name_of(language), lost->second);
    result.stderr_text += notice;
    sink.on_stderr(notice);
    m_lost.erase(lost);
  }
  return kernel;
}

ExecResult Session::execute(const ExecRequest& request, OutputSink& sink, Canceller* canceller) {
  auto started = Clock::now();
  auto result = run(request, sink, canceller);
  result.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return result;
}

ExecResult Session::run(const ExecRequest& request, OutputSink& sink, Canceller* canceller) {
  auto started = Clock::now();
  ExecResult result;
  result.language = request.language;
  result.session = m_name;
  result.execution_count = ++m_execution_count;
  const auto oom_before = m_jail->usage().oom_kills;
  const bool fresh = m_lifetime == Lifetime::fresh;
  const bool has_kernel = request.language != Language::bash;
  RunPolicy policy{!fresh && has_kernel, fresh, has_kernel};
  RunOutcome outcome;
  if (request.language == Language::bash) {
    auto script = check(script_memfd(request.code), ExitCode::sandbox_setup, "start bash");
    auto spawned = spawn_process(*m_jail, Language::bash, command_for(Language::bash), script.get());
    outcome = run_loop(*m_jail, spawned.pid, {spawned.out.get(), spawned.err.get(), -1}, policy, started + request.timeout,
                       m_config.limits.output, sink, canceller, result);
  } else {
    reap_dead_kernels();
    Kernel& kernel = kernel_for(request.language, sink, result);
    trace::mark("kernel ready");
    // A large cell may not fit the socket buffer: send it blocking, the driver reads it whole.
    int flags = ::fcntl(kernel.ctl.get(), F_GETFL);
    ::fcntl(kernel.ctl.get(), F_SETFL, flags & ~O_NONBLOCK);
    (void)sys::write_all(kernel.ctl.get(), frame(request));
    ::fcntl(kernel.ctl.get(), F_SETFL, flags);
    if (fresh) ::shutdown(kernel.ctl.get(), SHUT_WR); // one cell, then the driver finishes and exits
    ++kernel.executions;
    outcome = run_loop(*m_jail, kernel.pid, {kernel.out.get(), kernel.err.get(), kernel.ctl.get()}, policy,
                       started + request.timeout, m_config.limits.output, sink, canceller, result);
    if (outcome.wait_status || outcome.killed || !outcome.driver_result) {
      // The kernel is gone (or wedged): the next execution gets a new one.
      if (!fresh) {
        m_jail->signal(-kernel.pid, SIGKILL);
        m_lost[request.language] = outcome.killed ? "the last one did not stop when interrupted"
                                 : outcome.wait_status ? fmt::format("the last one died (status {})", status_code(*outcome.wait_status))
                                                       : "the last one stopped answering";
      }
      m_kernels.erase(request.language);
    }
  }
  finish(result, outcome, m_config.limits, m_jail->usage().oom_kills > oom_before, request);
  // The driver names images by their path inside; the user opens them outside.
  for (auto& image : result.images) {
    auto path = image.value("path", "");
    if (path.rfind("/workspace/", 0) == 0) image["path"] = (m_files_dir / path.substr(11)).string();
  }
  return result;
}

void Session::restart_kernels() {
  for (auto& [language, kernel] : m_kernels) m_jail->signal(-kernel.pid, SIGKILL);
  m_kernels.clear();
  m_lost.clear();
}

void Session::warm_up(Language language) {
  if (language == Language::bash) return; // a shell is a new process per execution
  struct Discard final : OutputSink {
    void on_stdout(std::string_view) override {}
    void on_stderr(std::string_view) override {}
  } discard;
  ExecResult unused;
  (void)kernel_for(language, discard, unused);
}

void Session::kill_processes() {
  restart_kernels();
  m_jail->kill_all();
}

SessionInfo Session::info() const {
  SessionInfo info;
  info.name = m_name;
  info.workspace = m_workspace;
  info.uptime_s = std::chrono::duration<double>(Clock::now() - m_started).count();
  info.execution_count = m_execution_count;
  for (const auto& [language, kernel] : m_kernels) {
    info.kernels.push_back({std::string(kernels::name_of(language)), kernel.pid, kernel.executions});
  }
  info.memory_bytes = m_jail->usage().memory_now;
  return info;
}

} // namespace sandpit::session
