// The seccomp-bpf filter (libseccomp): syscalls a sandbox never needs, and foreign architectures.
#pragma once

#include "sandpit/util/result.hpp"

#include <span>
#include <string_view>

namespace sandpit::jail {

// One entry of the deny list, for tests and `sandpit doctor`.
struct DeniedSyscall {
  std::string_view name;
  int err; // EPERM, or ENOSYS where callers must fall back (clone3)
};

std::span<const DeniedSyscall> denied_syscalls();

// The filter as a raw BPF program (struct sock_filter[]). Foreign architectures
// (i386 via int 0x80, x32) kill the process. Built on the host while the jail
// init mounts its filesystem, so that the ~1 ms it takes is off the critical path.
Result<std::string> build_seccomp_program();
// Loads a program from build_seccomp_program() into the calling process (needs no_new_privs).
Result<void> load_seccomp_program(std::string_view program);

} // namespace sandpit::jail
