// Starting the jail init: clone() into new namespaces, map ids, exec the init with an empty environment.
#pragma once

#include "sandpit/jail/cgroup.hpp"
#include "sandpit/jail/spec.hpp"
#include "sandpit/jail/user_ns.hpp"
#include "sandpit/sys/fd.hpp"

#include <optional>

namespace sandpit::jail {

struct LaunchedInit {
  pid_t pid;            // host pid of the jail init (pid 1 inside)
  sys::Fd ctl;          // SEQPACKET control socket to it
  sys::Fd child_report; // EOF once the exec succeeded; {step, errno} if a step failed
};

// Between clone() and execve() the child makes only raw syscalls: no
// allocation, no exceptions. Returns as soon as the child may proceed, without
// waiting for its exec: the caller overlaps its own work with it and asks
// child_failure() when the init does not answer.
Result<LaunchedInit> launch_init(const JailSpec& spec, Cgroup* cgroup, const IdMaps& maps);

// The step the child failed at, if it did (blocks until the child exec'd or exited).
std::optional<Failure> child_failure(LaunchedInit& launched);

// The clone flags for a spec (no CLONE_NEWCGROUP: the init unshares that
// itself once it sits in its cgroup, so the namespace root is the jail's group).
unsigned long clone_flags(const JailSpec& spec);

} // namespace sandpit::jail
