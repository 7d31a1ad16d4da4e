// Session: one jail for one workspace, its long-lived kernels, and the executions that run in it one at a time.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/files/files.hpp"
#include "sandpit/jail/jail.hpp"
#include "sandpit/proxy/egress.hpp"
#include "sandpit/session/execution.hpp"
#include "sandpit/session/processes.hpp"
#include "sandpit/session/profile.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sandpit::session {

class Canceller;
struct RunOutcome;

// The argv that starts `language`'s kernel (Python, Node drivers) or a shell script on fd 3 (bash).
std::vector<std::string> kernel_command(const config::Config& config, kernels::Language language);
struct Channels;

// fresh: a throwaway jail; each execution's process is the whole story and
// stopping it kills everything. persistent: kernels live on between
// executions and background processes until the session ends.
enum class Lifetime { fresh, persistent };

struct KernelInfo {
  std::string language;
  std::string context; // "" for the session's own kernel of the language
  pid_t pid;           // inside the jail
  int executions;      // cells this kernel ran
};

struct SessionInfo {
  std::string name;
  std::string workspace;
  double uptime_s = 0;
  int execution_count = 0;
  std::vector<KernelInfo> kernels;
  std::size_t processes = 0;      // commands running beside the kernels
  std::uint64_t memory_bytes = 0; // of the whole jail, when a cgroup measures it
  bool pooled = false;            // made ahead in the warm pool, then given this workspace
};

// Thread-safe where a front end needs it: executions in different contexts,
// and processes, run at once; executions in one context must come one at a
// time (the daemon's turns see to it).
class Session {
public:
  // Starts the jail for `workspace` (as its saved Profile describes it), and
  // with it the kernel for `first_kernel` (one round trip saved). Throws
  // Error(sandbox_setup) naming the step that failed.
  static std::unique_ptr<Session> start(const config::Config& config, const Workspace& workspace, Lifetime lifetime,
                                        std::optional<kernels::Language> first_kernel = std::nullopt);
  ~Session();

  // Runs one execution to completion (or timeout, output limit, interrupt), streaming output to `sink`.
  // `on_start`, when set, hears the execution's number before anything runs.
  ExecResult execute(const ExecRequest& request, OutputSink& sink, Canceller* canceller = nullptr,
                     const std::function<void(int execution_count)>& on_start = {});

  // Asks `language`'s parser, in the sandbox, whether `code` is a whole cell
  // (Python's codeop, Node's parser, bash -n). Runs nothing of the code.
  Completeness completeness(kernels::Language language, const std::string& code);

  // Stops every kernel: the next execution starts with fresh interpreter state.
  void restart_kernels();
  // Stops the kernels of one context, or only its `language` kernel (E2B's
  // restart and delete of a context). false: there was none.
  bool restart_context(const std::string& context, std::optional<kernels::Language> language = std::nullopt);
  // Kills every process in the jail (kernels and anything left in the background).
  void kill_processes();
  // Kills every process in the jail without touching session state: the one
  // call that is safe from another thread while an execution runs.
  void interrupt_all() { m_jail->kill_all(); }
  // Background CPU weight for the jail (Jail::set_background): a pool sandbox while it is being made.
  void set_background(bool background) { m_jail->set_background(background); }
  // Python kernels from now on are forked from the template in `dir` (pool_internal.hpp), falling back to a
  // cold start when it cannot make one.
  void use_template(std::string dir) {
    std::lock_guard lock(m_mutex);
    m_template_dir = std::move(dir);
  }
  // A pool sandbox (pool.cpp): starts the kernels of `languages`, loads their drivers and imports `preload`
  // in Python, so that the first cell after adopt() pays for none of it. Counts nothing. Throws Error.
  void warm(const std::vector<kernels::Language>& languages, const std::vector<std::string>& preload);
  // The pool sandbox becomes `workspace`'s session: its name, audit records and outputs are the workspace's,
  // and the profile's variables reach every process from now on (kernels included). The caller moved the
  // workspace's files to it (files::move_area).
  void adopt(const config::Config& config, const Workspace& workspace, const Profile& profile);
  // The pool sandbox runs one --fresh execution for `workspace`, whose files the caller mounted over the
  // jail's /workspace (files::attach_area): as adopt(), and the session's lifetime becomes fresh (the
  // kernel ends with the cell); each kernel moves to the new /workspace.
  void lend(const config::Config& config, const Workspace& workspace, const Profile& profile);
  SessionInfo info() const;
  const std::string& name() const { return m_name; }
  const jail::Jail& jail() const { return *m_jail; }
  const Profile& profile() const { return m_profile; }
  // The jail's /workspace, /persist and /tmp, opened through its init's root
  // (the init is this process's child, so its pid cannot have been reused): file
  // calls beneath them see exactly what the sandbox sees. Throws Error(sandbox_setup).
  files::Roots open_roots() const;

  // Commands beside the kernels (E2B's process API). `spec.env`/`cwd` are filled
  // from the profile when empty.
  ProcessTable& processes() { return *m_processes; }
  ProcessSpec process_spec(std::vector<std::string> argv, const std::map<std::string, std::string>& env, std::string cwd) const;

private:
  struct Kernel {
    pid_t pid = -1;
    sys::Fd out, err, ctl;
    int executions = 0;
  };
  using KernelKey = std::pair<kernels::Language, std::string>; // language, context

  Session(const config::Config& config, std::unique_ptr<jail::Jail> jail, std::string name, const Workspace& workspace,
          Lifetime lifetime, Profile profile);
  std::shared_ptr<Kernel> kernel_for(const KernelKey& key, const std::string& cwd, OutputSink& sink, ExecResult& result);
  void adopt_kernel(const KernelKey& key, pid_t pid, Channels channels);
  void reap_dead_kernels();
  void drop_if_lost(const KernelKey& key, const Kernel& kernel, const RunOutcome& outcome);
  ExecResult run(const ExecRequest& request, OutputSink& sink, Canceller* canceller, const std::function<void(int)>& on_start);
  ExecResult run_shell(const ExecRequest& request, ExecResult result, Canceller* canceller, OutputSink& sink);
  // The install step before the code (install.cpp). false: it failed, and `result` says why.
  bool install(const ExecRequest& request, OutputSink& sink, Canceller* canceller, ExecResult& result);
  void finish_run(ExecResult& result, const RunOutcome& outcome, const ExecRequest& request);
  // Audits one proxied connection with the session's current auditor.
  void audit_connection(const proxy::Connection& connection) const;
  jail::SpawnRequest spawn_request(std::vector<std::string> argv, const Channels& c, int third, std::string cwd = "") const;

  config::Config m_config;
  std::unique_ptr<jail::Jail> m_jail;
  std::unique_ptr<ProcessTable> m_processes; // before m_jail goes: its pumps wait on the jail
  std::unique_ptr<proxy::Proxy> m_code_proxy; // network.allow's way out; destroyed before the jail
  std::function<void(const proxy::Connection&)> m_on_connection; // audits each proxied connection (m_audit_mutex)
  mutable std::mutex m_audit_mutex;
  std::string m_name;
  std::string m_workspace;
  fs::path m_files_dir; // /workspace on the host: image paths are reported there
  Lifetime m_lifetime;
  Profile m_profile;
  bool m_pooled = false; // adopt() made it this workspace's
  std::chrono::steady_clock::time_point m_started;
  std::atomic<std::uint64_t> m_oom_before{0}; // the cgroup's OOM kills when the last execution began
  mutable std::mutex m_mutex; // everything below
  int m_execution_count = 0;
  std::map<KernelKey, std::shared_ptr<Kernel>> m_kernels;
  std::string m_template_dir; // use_template()
  std::map<KernelKey, std::string> m_lost; // why a kernel's state was lost, told to the next execution
};

} // namespace sandpit::session
