// Fault injection for the crash tests: SANDPIT_FAULT names a point where a process is killed with SIGKILL.
#pragma once

#include <string_view>
#include <sys/types.h>

namespace sandpit::fault {

// Which sandpit process this is, for SANDPIT_FAULT and for the audit log's record owners.
enum class Role { client, daemon, serve, mcp };

// Set once, early, by the process's entry point (the daemon, `serve`, `mcp`); the default is `client`.
void set_role(Role role);
Role role();
// "client", "daemon", "serve", "mcp".
std::string_view name_of(Role role);

// Whether this binary honours SANDPIT_FAULT (a build with SANDPIT_FAULT_INJECTION; release builds compile it out).
constexpr bool compiled_in() {
#ifdef SANDPIT_FAULT_INJECTION
  return true;
#else
  return false;
#endif
}

#ifdef SANDPIT_FAULT_INJECTION

// Honoured only while /etc/sandpit/config.toml does not exist (a shared installation
// ignores it, as it ignores SANDPIT_SYSTEM_CONFIG), and only by a build with the hooks.
// A hook can do nothing its user could not (kill -9 of their own processes); the gates
// keep it out of release binaries and out of installations whose admin set rules.
// SANDPIT_FAULT=<victim>:<point>[@<n>] (several separated by commas): the n-th time
// (default the first) a process reaches `point`:
//  - if <victim> is this process's role, it kills itself with SIGKILL;
//  - if <victim> is "init" and `init_pid` is given (the process owns that jail), it
//    kills the jail's init with SIGKILL and goes on.
void reached(std::string_view point, pid_t init_pid = -1);
// The same count as reached(), for points that do something first (tear a line) and
// then call die(): true when this process should die at this arrival.
bool armed(std::string_view point);
[[noreturn]] void die();

#else

inline void reached(std::string_view, pid_t = -1) {}
inline bool armed(std::string_view) { return false; }
[[noreturn]] void die();

#endif

} // namespace sandpit::fault
