// cgroup v2: where a jail's group goes (a delegated subtree, or a scope systemd delegates to us), behind seams.
//
// On a systemd host a process sits in a cgroup that systemd manages (a login
// session's scope, an app's scope) and must not write to, even where the files
// are writable: only a delegated cgroup is ours. So, in order:
//   1. the cgroup this process is in, if it is ours: delegated (systemd's
//      trusted.delegate / user.delegate xattr, or a scope we asked for), or any
//      writable one where systemd is not the init (containers, manual delegation);
//   2. else a transient scope, Delegate=yes, holding this process, asked of the
//      systemd manager (the user's; the system's, in sandpit.slice, as root);
//   3. else none (the caller tries cgroup v1, then rlimits).
// In the chosen cgroup this process moves to a leaf of its own
// (sandpit-client-<pid>: no process may stay in a group whose children get
// controllers), memory/pids/cpu are enabled for children, and each jail gets
// sandpit-<name> with memory.max, memory.swap.max, pids.max and cpu.max.
#pragma once

#include "sandpit/jail/cgroup.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace sandpit::jail {

// The cgroup2 filesystem by absolute path: the kernel's, or a fake tree in tests.
class CgroupFs {
public:
  virtual ~CgroupFs() = default;
  virtual Result<std::string> read(const std::string& path) const = 0;
  // Writes an existing file (a knob); a cgroupfs never creates files.
  virtual Result<void> write(const std::string& path, std::string_view data) = 0;
  virtual Result<void> make_dir(const std::string& path) = 0;
  virtual Result<void> remove_dir(const std::string& path) = 0;
  virtual bool writable(const std::string& path) const = 0;
  // Whether systemd delegated this cgroup (xattr trusted.delegate or user.delegate = "1").
  virtual bool delegated(const std::string& path) const = 0;
};
CgroupFs& kernel_cgroupfs();

// A systemd manager that can make a transient scope for us.
class SystemdManager {
public:
  virtual ~SystemdManager() = default;
  // "the systemd user manager" / "the systemd system manager", for messages.
  virtual std::string_view name() const = 0;
  // StartTransientUnit(unit, "fail", {PIDs=[pid], Delegate=yes, CollectMode=inactive-or-failed,
  // Slice=sandpit.slice as root}). Returns once the job is queued; the move follows shortly.
  virtual Result<void> start_delegated_scope(const std::string& unit, pid_t pid) = 0;
};

// The real manager: one D-Bus call on the manager's private socket
// ($XDG_RUNTIME_DIR/systemd/private, or /run/systemd/private as root), which
// needs no D-Bus daemon (systemd_bus.cpp). Tests point `socket` at a fake.
std::unique_ptr<SystemdManager> systemd_manager(std::string socket, bool system);

// What create_cgroup_v2 needs to know of the host; probe_v2_host() fills it in.
struct V2Host {
  CgroupFs* fs = nullptr;
  std::string mount;                 // the cgroup2 mount point; "" when none
  std::function<std::string()> self; // this process's cgroup ("/user.slice/..."), read afresh each call
  pid_t pid = 0;
  bool systemd_init = false;         // systemd runs this host: its cgroups are not ours unless delegated
  SystemdManager* systemd = nullptr; // a reachable manager, or nullptr
  std::string systemd_why_not;       // why none is reachable
  int scope_wait_ms = 2000;          // how long the move into a new scope may take
};

// The kernel's cgroupfs, /proc/self/mountinfo and /proc/self/cgroup, /run/systemd/system,
// and the manager's socket and busctl. `manager` receives the real manager, if any.
V2Host probe_v2_host(std::unique_ptr<SystemdManager>& manager);

// What create_cgroup_v2 chose, for doctor: "scope sandpit-1.scope, delegated by the systemd user manager".
struct V2Created {
  std::unique_ptr<Cgroup> cgroup;
  std::string how;
};
Result<V2Created> create_cgroup_v2(const std::string& name, const config::Limits& limits, V2Host& host);

} // namespace sandpit::jail
