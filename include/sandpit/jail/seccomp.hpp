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

// Loads the filter into the calling process (needs no_new_privs set first).
// Foreign architectures (i386 via int 0x80, x32) kill the process.
Result<void> install_seccomp();

} // namespace sandpit::jail
