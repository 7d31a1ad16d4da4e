// A session's kernels: how one is started (cold by the jail's init, or forked from the pool's template),
// adopted, found again, and dropped when it is lost.
#include "sandpit/session/session.hpp"

#include "channels.hpp"
#include "result.hpp"
#include "run_loop.hpp"

#include "sandpit/jail/jail.hpp"
#include "sandpit/kernels/drivers.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/fault.hpp"

#include <csignal>
#include <fmt/format.h>

namespace sandpit::session {

using kernels::Language;

std::vector<std::string> kernel_command(const config::Config& config, Language language) {
  language = kernels::kernel_of(language);
  auto it = config.language_commands.find(std::string(kernels::name_of(language)));
  std::vector<std::string> argv = it != config.language_commands.end() ? it->second : std::vector<std::string>{};
  // The drivers' source arrives on fd 3 ahead of the first cell (see adopt_kernel):
  // argv holds only a short loader, so `ps` stays readable.
  switch (language) {
  case Language::python: argv.insert(argv.end(), {"-c", kernels::python_loader()}); break;
  // --expose-internals: the driver uses Node's own REPL helpers (acorn, top-level await).
  case Language::javascript: argv.insert(argv.end(), {"--expose-internals", "-e", kernels::node_loader()}); break;
  case Language::bash: argv.push_back("/dev/fd/3"); break;
  case Language::typescript: break; // kernel_of: Node's
  }
  return argv;
}

// With m_mutex held.
void Session::reap_dead_kernels() {
  for (auto it = m_kernels.begin(); it != m_kernels.end();) {
    if (auto status = m_jail->take_exit(it->second->pid)) {
      m_lost[it->first] = fmt::format("it exited with status {} while idle", status_code(*status));
      it = m_kernels.erase(it);
    } else {
      ++it;
    }
  }
}

// With m_mutex held.
void Session::adopt_kernel(const KernelKey& key, pid_t pid, Channels channels) {
  // Blocking and before any cell: the loader reads exactly the driver's bytes.
  (void)sys::write_all(channels.ctl.first.get(), kernels::driver_source(key.first));
  keep_host_ends(channels);
  auto kernel = std::make_shared<Kernel>();
  kernel->pid = pid;
  kernel->out = std::move(channels.out.first);
  kernel->err = std::move(channels.err.first);
  kernel->ctl = std::move(channels.ctl.first);
  m_kernels[key] = std::move(kernel);
}

// With m_mutex held.
std::shared_ptr<Session::Kernel> Session::kernel_for(const KernelKey& key, const std::string& cwd, OutputSink& sink, ExecResult& result) {
  if (auto it = m_kernels.find(key); it != m_kernels.end()) return it->second;
  const Language language = key.first;
  auto channels = make_channels(language, true);
  auto request = spawn_request(kernel_command(m_config, language), channels, channels.ctl.second.get(), cwd);
  Result<pid_t> pid = Failure{"spawn", 0, {}};
  bool from_template = false;
  if (language == Language::python && !m_template_dir.empty()) {
    pid = m_jail->spawn_from_template(m_template_dir, request, kernels::driver_source(language).size());
    from_template = static_cast<bool>(pid);
    // A template that is gone or refuses: this kernel starts cold, as it would have without one.
    if (!pid) {
      fmt::print(stderr, "sandpit: template {}: {}; starting the kernel cold\n", m_template_dir, pid.failure().message());
      // New channels: a kernel the template may still have made holds the ends of these.
      channels = make_channels(language, true);
      request = spawn_request(kernel_command(m_config, language), channels, channels.ctl.second.get(), cwd);
    }
  }
  if (!from_template) pid = m_jail->spawn(request);
  if (!pid) start_failed(language, pid.failure());
  // A kernel from a template gets its environment on fd 3, where a cold one got it from execve.
  if (from_template) (void)sys::write_all(channels.ctl.first.get(), jail::template_environment_frame(request.env));
  adopt_kernel(key, *pid, std::move(channels));
  fault::reached("kernel-start", m_jail->init_pid());
  if (auto lost = m_lost.find(key); lost != m_lost.end()) {
    std::string notice = fmt::format("sandpit: a new {} kernel was started because {}; earlier state is lost\n",
                                     kernels::name_of(language), lost->second);
    result.stderr_text += notice;
    sink.on_stderr(notice);
    m_lost.erase(lost);
  }
  return m_kernels[key];
}

// With m_mutex held.
void Session::drop_if_lost(const KernelKey& key, const Kernel& kernel, const RunOutcome& outcome) {
  if (!outcome.wait_status && !outcome.killed && !outcome.protocol_error && outcome.driver_result) return;
  // The kernel is gone (or wedged): the next execution gets a new one.
  if (!outcome.wait_status) m_jail->forget(kernel.pid);
  if (m_lifetime != Lifetime::fresh) {
    m_jail->signal(-kernel.pid, SIGKILL);
    m_lost[key] = outcome.killed ? "the last one did not stop when interrupted"
                : outcome.wait_status ? fmt::format("the last one died (status {})", status_code(*outcome.wait_status))
                                      : "the last one stopped answering";
  }
  m_kernels.erase(key);
}

} // namespace sandpit::session
