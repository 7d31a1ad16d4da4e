// Session: one jail for one workspace, its long-lived kernels, and the executions that run in it one at a time.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/jail/jail.hpp"
#include "sandpit/session/execution.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace sandpit::session {

class Canceller;
struct RunOutcome;

// The fixed environment every sandboxed process starts with; nothing of the host's enters.
std::vector<std::string> sandbox_environment();
// The argv that starts `language`'s kernel (Python, Node drivers) or a shell script on fd 3 (bash).
std::vector<std::string> kernel_command(const config::Config& config, kernels::Language language);
struct Channels;

// fresh: a throwaway jail; each execution's process is the whole story and
// stopping it kills everything. persistent: kernels live on between
// executions and background processes until the session ends.
enum class Lifetime { fresh, persistent };

struct KernelInfo {
  std::string language;
  pid_t pid;      // inside the jail
  int executions; // cells this kernel ran
};

struct SessionInfo {
  std::string name;
  std::string workspace;
  double uptime_s = 0;
  int execution_count = 0;
  std::vector<KernelInfo> kernels;
  std::uint64_t memory_bytes = 0; // of the whole jail, when a cgroup measures it
};

class Session {
public:
  // Starts the jail for `workspace`, and with it the kernel for `first_kernel`
  // (one round trip saved). Throws Error(sandbox_setup) naming the step that failed.
  static std::unique_ptr<Session> start(const config::Config& config, const Workspace& workspace, Lifetime lifetime,
                                        std::optional<kernels::Language> first_kernel = std::nullopt);

  // Runs one execution to completion (or timeout, output limit, interrupt), streaming output to `sink`.
  ExecResult execute(const ExecRequest& request, OutputSink& sink, Canceller* canceller = nullptr);

  // Asks `language`'s parser, in the sandbox, whether `code` is a whole cell
  // (Python's codeop, Node's parser, bash -n). Runs nothing of the code.
  Completeness completeness(kernels::Language language, const std::string& code);

  // Stops every kernel: the next execution starts with fresh interpreter state.
  void restart_kernels();
  // Kills every process in the jail (kernels and anything left in the background).
  void kill_processes();
  // Kills every process in the jail without touching session state: the one
  // call that is safe from another thread while an execution runs.
  void interrupt_all() { m_jail->kill_all(); }
  SessionInfo info() const;
  const std::string& name() const { return m_name; }
  const jail::Jail& jail() const { return *m_jail; }

private:
  struct Kernel {
    pid_t pid = -1;
    sys::Fd out, err, ctl;
    int executions = 0;
  };

  Session(const config::Config& config, std::unique_ptr<jail::Jail> jail, std::string name, const Workspace& workspace,
          Lifetime lifetime);
  Kernel& kernel_for(kernels::Language language, OutputSink& sink, ExecResult& result);
  void adopt_kernel(kernels::Language language, pid_t pid, Channels channels);
  void reap_dead_kernels();
  void drop_if_lost(kernels::Language language, const Kernel& kernel, const RunOutcome& outcome);
  ExecResult run(const ExecRequest& request, OutputSink& sink, Canceller* canceller);

  config::Config m_config;
  std::unique_ptr<jail::Jail> m_jail;
  std::string m_name;
  std::string m_workspace;
  fs::path m_files_dir; // /workspace on the host: image paths are reported there
  Lifetime m_lifetime;
  std::chrono::steady_clock::time_point m_started;
  int m_execution_count = 0;
  std::map<kernels::Language, Kernel> m_kernels;
  std::map<kernels::Language, std::string> m_lost; // why a kernel's state was lost, told to the next execution
};

} // namespace sandpit::session
