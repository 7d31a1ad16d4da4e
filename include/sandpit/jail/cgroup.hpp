// Cgroup: a control group that holds one jail and enforces its memory, pids and CPU limits.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/util/result.hpp"

#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sandpit::jail {

struct CgroupUsage {
  std::uint64_t oom_kills = 0;  // processes the kernel killed at the memory limit, ever
  bool pids_limited = false;    // a fork failed because of the pids limit
  std::uint64_t memory_peak = 0;
  std::uint64_t memory_now = 0;
};

class Cgroup {
public:
  virtual ~Cgroup() = default;
  virtual std::string_view kind() const = 0; // "cgroup v1" / "cgroup v2"
  // Moves `pid` (a host pid) into the group.
  virtual Result<void> add(pid_t pid) = 0;
  // Files a single-threaded process writes "0" to in order to move itself in
  // (v1 `tasks`). A process moving itself skips the kernel's global
  // threadgroup lock, whose RCU grace period costs 5-35 ms per migration.
  // Empty: the parent must call add() instead.
  virtual std::vector<std::string> self_attach_files() const { return {}; }
  virtual CgroupUsage usage() const = 0;
  // Just usage().oom_kills: one file, read twice per execution.
  virtual std::uint64_t oom_kills() const = 0;
  // The group's CPU weight: `background` makes it yield to every other group that wants the CPU (a pool
  // sandbox being made), false gives the default weight back. Best effort: no cpu controller, no change.
  virtual void set_background(bool background) = 0;
  // Kills every process in the group (v2: cgroup.kill; v1: signals each pid listed).
  virtual void kill_all() = 0;
  // Removes the group once it is empty; retries briefly while the kernel drains it.
  virtual void destroy() = 0;
};

// Which cgroup holds the jail and why the other ways were not taken, for `doctor`.
struct CgroupChoice {
  std::unique_ptr<Cgroup> cgroup;
  std::string how;     // "cgroup v2: scope sandpit-12.scope delegated by the systemd user manager"; "" with none
  std::string why_not; // why each way tried before it (or every way, with none) was not taken
};

// Picks cgroup v2 (a delegated cgroup, or a scope systemd delegates on request:
// cgroup_v2.hpp), else cgroup v1 when running as root with v1 controllers
// mounted, else none (rlimits only).
CgroupChoice create_cgroup(const std::string& name, const config::Limits& limits);

Result<std::unique_ptr<Cgroup>> create_cgroup_v1(const std::string& name, const config::Limits& limits);

// Removes the groups in `base` named `<prefix><pid>-<n>` or `<prefix><pid>` whose creating process
// (pid) is gone: a jail owner killed with SIGKILL never removed its own. A group
// that still holds processes stays (rmdir refuses it).
void remove_stale_groups(const std::string& base, std::string_view prefix);

// Removes an empty cgroup directory, retrying for up to ~200 ms while it is busy.
void remove_cgroup_dir(const std::string& dir);

} // namespace sandpit::jail
