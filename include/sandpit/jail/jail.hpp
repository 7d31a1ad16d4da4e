// Jail: the host's handle on one running jail (its init, its cgroup) and the requests it can make.
#pragma once

#include "sandpit/jail/cgroup.hpp"
#include "sandpit/jail/spec.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/result.hpp"

#include <deque>
#include <memory>
#include <optional>
#include <string>
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
  std::string why_not; // why no cgroup, when none
};

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
  // Sends `signal` to a jail pid (negative: its process group).
  void signal(pid_t pid, int signal);
  // Kills every process in the jail except its init.
  void kill_all();
  // Kills every process in the jail except its init and `keep`.
  void kill_others(const std::vector<pid_t>& keep);

  // Readable when the init has something to say; then call read_events().
  int event_fd() const { return m_ctl.get(); }
  // Reads one message from the init and queues it. false once the init is gone (the jail is dead).
  bool read_events();
  // Reads whatever the init has sent, without blocking. false once the init is gone.
  bool drain_events();
  // Removes and returns the exit status of `pid` if it has been reported.
  std::optional<int> take_exit(pid_t pid);
  // The caller no longer follows `pid`: drop its exit now or when it comes, so a
  // later process that reuses the number is not taken for it.
  void forget(pid_t pid);
  bool dead() const { return m_dead; }

  CgroupUsage usage() const;
  std::uint64_t oom_kills() const { return m_cgroup ? m_cgroup->oom_kills() : 0; }
  const LimitMechanism& limits() const { return m_limits; }
  pid_t init_pid() const { return m_init_pid; }

  // Kills the init (and with it the pid namespace), reaps it, removes the cgroup.
  void destroy();

private:
  Jail() = default;
  Result<std::string> read_reply();

  pid_t m_init_pid = -1;
  pid_t m_first_pid = -1;
  Failure m_first_failure;
  sys::Fd m_ctl;
  std::unique_ptr<Cgroup> m_cgroup;
  LimitMechanism m_limits;
  std::deque<ExitEvent> m_events;
  std::vector<pid_t> m_forgotten;
  bool m_dead = false;
};

} // namespace sandpit::jail
