// Jail: the host's handle on one running jail (its init, its cgroup) and the requests it can make.
#pragma once

#include "sandpit/jail/cgroup.hpp"
#include "sandpit/jail/rlimits.hpp"
#include "sandpit/jail/spec.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/result.hpp"

#include <span>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sandpit::jail {

struct SpawnRequest {
  std::vector<std::string> argv; // argv[0] is an absolute path inside the jail
  std::vector<std::string> env;
  std::string cwd = "/workspace";
  std::vector<int> fds; // become 0..n-1 in the process; the caller keeps ownership
};

struct ExitEvent {
  pid_t pid;  // pid inside the jail
  int status; // waitpid status
};

// Which limit mechanisms are in force, for doctor and diagnostics.
struct LimitMechanism {
  std::string cgroup;  // "cgroup v1", "cgroup v2" or "" (none)
  std::string how;     // CgroupChoice::how: which cgroup, and who delegated it
  std::string why_not; // CgroupChoice::why_not: why the ways before it (or all) were not taken
};

// Thread-safe: several threads may spawn, signal and wait on processes of one
// jail at once (a session runs a cell in one context while commands run
// beside it). A reader thread takes every message the init sends: the reply
// to the spawn in flight, and exits, which wake whoever watches that pid.
class Jail {
public:
  // Creates the cgroup, clones the init into fresh namespaces and waits until it
  // has built the filesystem and dropped privileges.
  // `first`, if given, is spawned as soon as the init is ready, without
  // another round trip (a kernel the caller knows it needs); its pid is first_pid().
  static Result<std::unique_ptr<Jail>> start(const JailSpec& spec, const SpawnRequest* first = nullptr);
  pid_t first_pid() const { return m_first_pid; }
  // Why `first` could not be spawned, when first_pid() is -1.
  const Failure& first_failure() const { return m_first_failure; }
  ~Jail();
  Jail(const Jail&) = delete;
  Jail& operator=(const Jail&) = delete;

  Result<pid_t> spawn(const SpawnRequest& request);
  // Spawns a Python kernel forked from the template listening at `dir`/socket (kernels/python_template.py):
  // it joins this jail's namespaces and cgroup, drops what the init dropped and loads its seccomp filter.
  // The kernel then reads its environment (template_environment_frame) and the driver on its control fd.
  // Its exit reaches watch_exit/take_exit like any other. `request.argv` is not used.
  Result<pid_t> spawn_from_template(const std::string& dir, const SpawnRequest& request, std::size_t driver_size);
  // Sends `signal` to a jail pid (negative: its process group).
  void signal(pid_t pid, int signal);
  // Kills every process in the jail except its init.
  void kill_all();
  // Kills every process in the jail except its init and `keep`.
  void kill_others(const std::vector<pid_t>& keep);

  // An eventfd that becomes readable once `pid`'s exit is known (take_exit then
  // returns it) or the jail has died. The caller owns it; unwatch() when giving up early.
  sys::Fd watch_exit(pid_t pid);
  void unwatch(pid_t pid);
  // Removes and returns the exit status of `pid` if it has been reported.
  std::optional<int> take_exit(pid_t pid);
  // The caller no longer follows `pid`: drop its exit now or when it comes, so a
  // later process that reuses the number is not taken for it.
  void forget(pid_t pid);
  bool dead() const;

  CgroupUsage usage() const;
  std::uint64_t oom_kills() const { return m_cgroup ? m_cgroup->oom_kills() : 0; }
  void set_background(bool background) {
    if (m_cgroup) m_cgroup->set_background(background);
  }
  const LimitMechanism& limits() const { return m_limits; }
  pid_t init_pid() const { return m_init_pid; }

  // Kills the init (and with it the pid namespace), reaps it, removes the cgroup.
  void destroy();

private:
  Jail() = default;
  // Before the reader thread runs: the replies of start().
  Result<std::string> read_reply_directly();
  void read_loop();
  void send(const std::string& message, std::span<const int> fds = {});
  void notify_exit(pid_t pid); // with m_mutex held

  void wait_template_kernel(int connection, pid_t pid); // its thread: the template reports the exit

  pid_t m_init_pid = -1;
  pid_t m_first_pid = -1;
  std::string m_seccomp;        // the init's program, for kernels made from a template
  std::vector<Rlimit> m_rlimits; // the init's spawn limits, likewise
  Failure m_first_failure;
  sys::Fd m_ctl;
  std::unique_ptr<Cgroup> m_cgroup;
  LimitMechanism m_limits;
  std::thread m_reader;
  std::mutex m_spawn_mutex; // one request that expects a reply at a time
  std::mutex m_send_mutex;
  mutable std::mutex m_mutex; // everything below
  std::condition_variable m_replied;
  std::deque<std::string> m_replies;
  std::deque<ExitEvent> m_events;
  std::vector<pid_t> m_forgotten;
  std::map<pid_t, sys::Fd> m_watches; // the jail's copy of each watcher's eventfd
  bool m_dead = false;
  struct TemplateWait {
    sys::Fd connection;
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<TemplateWait> m_template_waits; // a connection per kernel from a template
};

// The first frame a kernel from a template reads on its control fd: its environment, as execve would give it.
std::string template_environment_frame(const std::vector<std::string>& env);

} // namespace sandpit::jail
