#include "sandpit/jail/caps.hpp"

#include "sandpit/sys/fd.hpp"

#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sandpit::jail {
namespace {

int last_cap() {
  auto text = sys::read_file("/proc/sys/kernel/cap_last_cap");
  return text ? std::atoi(text->c_str()) : CAP_LAST_CAP;
}

} // namespace

Result<void> drop_privileges() {
  // Read before /proc could be gone; the value is needed for the bounding set.
  static const int last = last_cap();
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return errno_failure("clear ambient capabilities");
  constexpr unsigned long locked = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                   SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                   SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (::prctl(PR_SET_SECUREBITS, locked) != 0) return errno_failure("lock securebits");
  for (int cap = 0; cap <= last; ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return errno_failure("drop bounding set");
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capset, &header, data) != 0) return errno_failure("capset");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno_failure("prctl(PR_SET_NO_NEW_PRIVS)");
  return {};
}

} // namespace sandpit::jail
