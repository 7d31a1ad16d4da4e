#include "sandpit/session/session.hpp"

#include "channels.hpp"
#include "images.hpp"
#include "result.hpp"
#include "run_loop.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/jail/net.hpp"
#include "sandpit/kernels/drivers.hpp"
#include "sandpit/session/admission.hpp"
#include "sandpit/util/fault.hpp"
#include "sandpit/util/trace.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sandpit::session {

namespace {

using kernels::Language;
using Clock = std::chrono::steady_clock;

// The cell frame the drivers read: "exec <nbytes> <cell id> <filename>\n" + source
// ("exec-ts", "check-ts": a TypeScript cell for the Node driver).
// The driver echoes the id in its result: a result without it (stale, or
// forged by a cell) is not taken for this cell's.
std::string frame(const ExecRequest& request, const std::string& cell, std::string_view op = "exec") {
  const std::string_view typed = request.language == Language::typescript ? "-ts" : "";
  return fmt::format("{}{} {} {} {}\n{}", op, typed, request.code.size(), cell, request.filename, request.code);
}

// A check is a parse: it answers at once or the kernel is in trouble.
constexpr std::chrono::seconds k_check_timeout{5};

class NullSink final : public OutputSink {
public:
  void on_stdout(std::string_view) override {}
  void on_stderr(std::string_view) override {}
};

// What `bash -n` says about a script that stops short: more lines can finish it.
bool bash_wants_more(const std::string& code, const std::string& diagnostics) {
  std::size_t backslashes = 0;
  for (auto it = code.rbegin(); it != code.rend() && *it == '\\'; ++it) ++backslashes;
  // A trailing backslash continues the line, which bash -n cannot see at the end of its input.
  if (backslashes % 2 == 1) return true;
  return diagnostics.find("unexpected end of file") != std::string::npos ||
         diagnostics.find("unexpected EOF") != std::string::npos ||
         diagnostics.find("here-document") != std::string::npos;
}

std::string new_cell_id() {
  std::uint64_t bits = 0;
  if (::getrandom(&bits, sizeof bits, 0) != sizeof bits) bits = static_cast<std::uint64_t>(::getpid()) ^ static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  return fmt::format("c{:016x}", bits);
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

// The frame that sets environment variables for the next cell only (E2B's per-call envs): "env <nbytes> <cell> -\n" + JSON.
std::string env_frame(const std::map<std::string, std::string>& env, const std::string& cell) {
  const auto json = nlohmann::json(env).dump();
  return fmt::format("env {} {} -\n{}", json.size(), cell, json);
}

} // namespace

jail::SpawnRequest Session::spawn_request(std::vector<std::string> argv, const Channels& c, int third, std::string cwd) const {
  return {std::move(argv), sandbox_environment(m_profile), cwd.empty() ? m_profile.home_dir() : std::move(cwd),
          {c.null_fd.get(), c.out.second.get(), c.err.second.get(), third}};
}

Session::Session(const config::Config& config, std::unique_ptr<jail::Jail> jail, std::string name, const Workspace& workspace,
                 Lifetime lifetime, Profile profile)
    : m_config(config), m_jail(std::move(jail)), m_processes(std::make_unique<ProcessTable>(*m_jail)), m_name(std::move(name)),
      m_workspace(workspace.host_dir.string()), m_files_dir(workspace.files_dir), m_lifetime(lifetime), m_profile(std::move(profile)),
      m_started(Clock::now()) {}

Session::~Session() {
  // The process pumps and the proxy's connections wait on the jail: they go first.
  m_code_proxy.reset();
  m_processes.reset();
}

void Session::audit_connection(const proxy::Connection& connection) const {
  std::function<void(const proxy::Connection&)> audit;
  {
    std::lock_guard lock(m_audit_mutex);
    audit = m_on_connection;
  }
  if (audit) audit(connection);
}

files::Roots Session::open_roots() const {
  const auto root = fmt::format("/proc/{}/root", m_jail->init_pid());
  sys::Fd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  sys::Fd fds[3];
  const char* names[3] = {"workspace", "persist", "tmp"};
  for (int i = 0; i < 3; ++i) {
    open_how how{};
    how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long opened = dir.valid() ? ::syscall(SYS_openat2, dir.get(), names[i], &how, sizeof how) : -1;
    if (opened < 0) throw Error(ExitCode::sandbox_setup, fmt::format("open the sandbox's /{}", names[i]), std::strerror(errno));
    fds[i] = sys::Fd(static_cast<int>(opened));
  }
  return files::Roots{std::move(fds[0]), std::move(fds[1]), std::move(fds[2])};
}

std::unique_ptr<Session> Session::start(const config::Config& config, const Workspace& workspace, Lifetime lifetime,
                                        std::optional<Language> first_kernel) {
  workspace.ensure_created();
  ensure_persist_dir();
  auto profile = load_profile(workspace);
  // network.allow: code reaches the listed hosts through the proxy on its loopback, and learns so from its environment.
  const bool proxied = !config.network_enabled && !config.network_allow.empty();
  if (proxied) {
    for (auto& [name, value] : proxy_environment(config.network_allow)) profile.env.try_emplace(name, value);
  }
  if (::geteuid() == 0) {
    // As root the sandbox user is the host's nobody: give it the workspace files and the volume.
    for (const auto& dir : {workspace.files_dir, persist_dir()}) {
      if (::chown(dir.c_str(), jail::k_root_mode_host_id, jail::k_root_mode_host_id) != 0) {
        throw Error(ExitCode::sandbox_setup, "chown " + dir.string(), std::strerror(errno));
      }
    }
  }
  auto spec = jail::make_spec(config, workspace.files_dir.string(), persist_dir().string());
  spec.home = profile.home;
  spec.user_name = profile.user();
  // The first kernel starts with the jail: its request travels with the setup.
  const Language language = kernels::kernel_of(first_kernel.value_or(Language::bash));
  const bool with_kernel = language != Language::bash; // a shell is a new process per execution
  std::optional<Channels> channels;
  std::optional<jail::SpawnRequest> first;
  if (with_kernel) {
    channels = make_channels(language, true);
    first = jail::SpawnRequest{kernel_command(config, language), sandbox_environment(profile), profile.home_dir(),
                               {channels->null_fd.get(), channels->out.second.get(), channels->err.second.get(), channels->ctl.second.get()}};
  }
  auto jail = jail::Jail::start(spec, first ? &*first : nullptr);
  if (!jail) {
    const auto& f = jail.failure();
    std::string why = f.message();
    if (f.what == "clone" && (f.err == EPERM || f.err == ENOSPC || f.err == EINVAL || f.err == EUSERS)) {
      why += " (unprivileged user namespaces may be disabled here: see `sandpit doctor`, "
             "sysctl kernel.unprivileged_userns_clone and user.max_user_namespaces)";
    }
    throw Error(ExitCode::sandbox_setup, "sandbox setup failed", why);
  }
  std::unique_ptr<Session> session(
      new Session(config, std::move(jail).value(), "ws-" + workspace.id, workspace, lifetime, std::move(profile)));
  session->m_on_connection = connection_auditor(config, workspace, session->m_name);
  if (proxied) {
    auto listener = jail::listen_inside(session->m_jail->init_pid(), k_code_proxy_port);
    if (!listener) throw Error(ExitCode::sandbox_setup, "start the egress proxy", listener.failure().message());
    proxy::Options options;
    options.allow = proxy::AllowList::parse(config.network_allow);
    // Through the session: a pool sandbox's auditor changes when it takes its workspace (adopt).
    options.on_close = [s = session.get()](const proxy::Connection& c) { s->audit_connection(c); };
    session->m_code_proxy = std::make_unique<proxy::Proxy>(std::move(listener).value(), std::move(options));
  }
  if (with_kernel) {
    if (session->m_jail->first_pid() < 0) start_failed(language, session->m_jail->first_failure());
    std::lock_guard lock(session->m_mutex);
    session->adopt_kernel({language, ""}, session->m_jail->first_pid(), std::move(*channels));
    fault::reached("kernel-start", session->m_jail->init_pid());
  }
  return session;
}

ExecResult Session::execute(const ExecRequest& request, OutputSink& sink, Canceller* canceller, const std::function<void(int)>& on_start) {
  auto started = Clock::now();
  auto result = run(request, sink, canceller, on_start);
  result.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return result;
}

ExecResult Session::run_shell(const ExecRequest& request, ExecResult result, Canceller* canceller, OutputSink& sink) {
  auto started = Clock::now();
  auto script = check(script_memfd(request.code), ExitCode::sandbox_setup, "start bash");
  auto channels = make_channels(Language::bash, false);
  auto spawn = spawn_request(kernel_command(m_config, Language::bash), channels, script.get(), request.cwd);
  if (!request.env.empty()) spawn.env = with_env(std::move(spawn.env), request.env);
  auto pid = m_jail->spawn(spawn);
  if (!pid) start_failed(Language::bash, pid.failure());
  keep_host_ends(channels);
  const bool fresh = m_lifetime == Lifetime::fresh;
  auto outcome = run_loop(*m_jail, *pid, {channels.out.first.get(), channels.err.first.get(), -1, {}, {}, false}, {false, fresh, false},
                          started + request.timeout, m_config.limits.output, sink, canceller, result);
  finish_run(result, outcome, request);
  return result;
}

ExecResult Session::run(const ExecRequest& request, OutputSink& sink, Canceller* canceller, const std::function<void(int)>& on_start) {
  auto started = Clock::now();
  ExecResult result;
  result.language = request.language;
  result.session = m_name;
  {
    std::lock_guard lock(m_mutex);
    result.execution_count = ++m_execution_count;
  }
  if (on_start) on_start(result.execution_count);
  m_oom_before = m_jail->oom_kills();
  bool refresh = false; // new packages: Python must forget what it found missing
  if (!request.packages.empty()) {
    if (!install(request, sink, canceller, result)) {
      finish_run(result, RunOutcome{}, request);
      return result;
    }
    refresh = std::any_of(result.packages_installed.begin(), result.packages_installed.end(), [](const auto& p) { return !p.value("cached", true); });
  }
  if (request.language == Language::bash) return run_shell(request, std::move(result), canceller, sink);
  const bool fresh = m_lifetime == Lifetime::fresh;
  const KernelKey key{kernels::kernel_of(request.language), request.context};
  std::shared_ptr<Kernel> kernel;
  {
    std::lock_guard lock(m_mutex);
    reap_dead_kernels();
    kernel = kernel_for(key, request.cwd, sink, result);
    ++kernel->executions;
  }
  trace::mark("kernel ready");
  // The cell goes out from inside the run loop, under its deadline: a kernel
  // that does not read (stopped, wedged) cannot hold the session.
  const auto cell = new_cell_id();
  // Each cell its own name, so a traceback through a function an earlier cell defined shows that cell's lines.
  auto named = request;
  if (named.filename == "<cell>") named.filename = fmt::format("<cell {}>", result.execution_count);
  auto to_send = request.env.empty() ? frame(named, cell) : env_frame(request.env, cell) + frame(named, cell);
  if (refresh) to_send = fmt::format("refresh 0 {} -\n", cell) + to_send;
  auto outcome = run_loop(*m_jail, kernel->pid, {kernel->out.get(), kernel->err.get(), kernel->ctl.get(), cell, std::move(to_send), fresh},
                          {!fresh, fresh, true}, started + request.timeout, m_config.limits.output, sink, canceller, result);
  {
    std::lock_guard lock(m_mutex);
    drop_if_lost(key, *kernel, outcome);
  }
  finish_run(result, outcome, request);
  return result;
}

void Session::finish_run(ExecResult& result, const RunOutcome& outcome, const ExecRequest& request) {
  if (m_lifetime != Lifetime::fresh && !m_config.keep_background) {
    // session.background = "kill": nothing of this execution outlives it but the kernels (and the commands beside them).
    std::lock_guard lock(m_mutex);
    std::vector<pid_t> keep = m_processes->pids();
    for (const auto& [key, k] : m_kernels) keep.push_back(k->pid);
    m_jail->kill_others(keep);
  }
  finish(result, outcome, m_config.limits, m_jail->oom_kills() > m_oom_before, request);
  // The driver names images by their path inside; the user opens copies outside.
  save_images(result, m_files_dir.parent_path() / "outputs");
}

Completeness Session::completeness(Language language, const std::string& code) {
  const auto deadline = Clock::now() + k_check_timeout;
  NullSink sink;
  ExecResult scratch;
  if (language == Language::bash) {
    auto script = check(script_memfd(code + "\n"), ExitCode::sandbox_setup, "start bash");
    auto channels = make_channels(Language::bash, false);
    auto argv = kernel_command(m_config, Language::bash);
    argv.insert(argv.end() - 1, "-n"); // parse only
    auto pid = m_jail->spawn(spawn_request(std::move(argv), channels, script.get()));
    if (!pid) start_failed(Language::bash, pid.failure());
    keep_host_ends(channels);
    auto outcome = run_loop(*m_jail, *pid, {channels.out.first.get(), channels.err.first.get(), -1, {}, {}, false},
                            {false, false, false}, deadline, m_config.limits.output, sink, nullptr, scratch);
    if (outcome.wait_status && status_code(*outcome.wait_status) == 0) return Completeness::complete;
    return bash_wants_more(code, scratch.stderr_text) ? Completeness::incomplete : Completeness::invalid;
  }
  const KernelKey key{kernels::kernel_of(language), ""};
  std::shared_ptr<Kernel> kernel;
  {
    std::lock_guard lock(m_mutex);
    reap_dead_kernels();
    // A kernel started for a check must still tell the next execution that earlier state was lost.
    auto lost = m_lost;
    kernel = kernel_for(key, "", sink, scratch);
    m_lost = std::move(lost);
  }
  const auto cell = new_cell_id();
  ExecRequest asked;
  asked.language = language;
  asked.code = code;
  RunChannels channels{kernel->out.get(), kernel->err.get(), kernel->ctl.get(), cell, frame(asked, cell, "check"), false, "check"};
  auto outcome = run_loop(*m_jail, kernel->pid, channels, {true, false, true}, deadline, m_config.limits.output, sink, nullptr, scratch);
  {
    std::lock_guard lock(m_mutex);
    drop_if_lost(key, *kernel, outcome);
  }
  if (!outcome.driver_result) return Completeness::complete; // nothing to wait for: the execution will report
  return parse_completeness((*outcome.driver_result).value("status", "")).value_or(Completeness::complete);
}

void Session::restart_kernels() {
  std::lock_guard lock(m_mutex);
  for (auto& [key, kernel] : m_kernels) {
    m_jail->signal(-kernel->pid, SIGKILL);
    m_jail->forget(kernel->pid);
  }
  m_kernels.clear();
  m_lost.clear();
}

bool Session::restart_context(const std::string& context, std::optional<Language> language) {
  std::lock_guard lock(m_mutex);
  bool any = false;
  for (auto it = m_kernels.begin(); it != m_kernels.end();) {
    if (it->first.second != context || (language && it->first.first != kernels::kernel_of(*language))) {
      ++it;
      continue;
    }
    m_jail->signal(-it->second->pid, SIGKILL);
    m_jail->forget(it->second->pid);
    m_lost.erase(it->first);
    it = m_kernels.erase(it);
    any = true;
  }
  return any;
}

void Session::kill_processes() {
  restart_kernels();
  m_jail->kill_all();
}

ProcessSpec Session::process_spec(std::vector<std::string> argv, const std::map<std::string, std::string>& env, std::string cwd) const {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.env = with_env(sandbox_environment(m_profile), env);
  spec.requested_env = env;
  spec.cwd = cwd.empty() ? m_profile.home_dir() : std::move(cwd);
  return spec;
}

SessionInfo Session::info() const {
  SessionInfo info;
  info.name = m_name;
  info.workspace = m_workspace;
  info.pooled = m_pooled;
  info.uptime_s = std::chrono::duration<double>(Clock::now() - m_started).count();
  {
    std::lock_guard lock(m_mutex);
    info.execution_count = m_execution_count;
    for (const auto& [key, kernel] : m_kernels) {
      info.kernels.push_back({std::string(kernels::name_of(key.first)), key.second, kernel->pid, kernel->executions});
    }
  }
  info.processes = m_processes->size();
  info.memory_bytes = m_jail->usage().memory_now;
  return info;
}

} // namespace sandpit::session
