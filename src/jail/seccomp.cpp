#include "sandpit/jail/seccomp.hpp"

#include "sandpit/sys/fd.hpp"

#include <array>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <cerrno>
#include <fmt/format.h>
#include <memory>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace sandpit::jail {
namespace {

constexpr std::array k_denied{
    // filesystem and namespace escapes
    DeniedSyscall{"mount", EPERM}, DeniedSyscall{"umount2", EPERM}, DeniedSyscall{"pivot_root", EPERM},
    DeniedSyscall{"chroot", EPERM}, DeniedSyscall{"fsopen", EPERM}, DeniedSyscall{"fsconfig", EPERM},
    DeniedSyscall{"fsmount", EPERM}, DeniedSyscall{"fspick", EPERM}, DeniedSyscall{"move_mount", EPERM},
    DeniedSyscall{"open_tree", EPERM}, DeniedSyscall{"open_tree_attr", EPERM}, DeniedSyscall{"mount_setattr", EPERM}, DeniedSyscall{"setns", EPERM},
    DeniedSyscall{"unshare", EPERM}, DeniedSyscall{"open_by_handle_at", EPERM},
    DeniedSyscall{"name_to_handle_at", EPERM},
    // clone3 takes its flags in memory that seccomp cannot read: make libc fall back to clone
    DeniedSyscall{"clone3", ENOSYS},
    // openat2 takes its mode in memory too (setuid bits could not be refused): libc falls back to openat
    DeniedSyscall{"openat2", ENOSYS},
    // other processes' memory
    DeniedSyscall{"ptrace", EPERM}, DeniedSyscall{"process_vm_readv", EPERM},
    DeniedSyscall{"process_vm_writev", EPERM}, DeniedSyscall{"pidfd_getfd", EPERM},
    DeniedSyscall{"kcmp", EPERM},
    // kernel attack surface
    DeniedSyscall{"bpf", EPERM}, DeniedSyscall{"perf_event_open", EPERM}, DeniedSyscall{"userfaultfd", EPERM},
    DeniedSyscall{"io_uring_setup", EPERM}, DeniedSyscall{"io_uring_enter", EPERM},
    DeniedSyscall{"io_uring_register", EPERM}, DeniedSyscall{"keyctl", EPERM}, DeniedSyscall{"add_key", EPERM},
    DeniedSyscall{"request_key", EPERM}, DeniedSyscall{"lookup_dcookie", EPERM}, DeniedSyscall{"fanotify_init", EPERM},
    // the machine itself
    DeniedSyscall{"kexec_load", EPERM}, DeniedSyscall{"kexec_file_load", EPERM}, DeniedSyscall{"init_module", EPERM},
    DeniedSyscall{"finit_module", EPERM}, DeniedSyscall{"delete_module", EPERM}, DeniedSyscall{"reboot", EPERM},
    DeniedSyscall{"swapon", EPERM}, DeniedSyscall{"swapoff", EPERM}, DeniedSyscall{"acct", EPERM},
    DeniedSyscall{"quotactl", EPERM}, DeniedSyscall{"quotactl_fd", EPERM}, DeniedSyscall{"syslog", EPERM},
    DeniedSyscall{"settimeofday", EPERM}, DeniedSyscall{"clock_settime", EPERM}, DeniedSyscall{"adjtimex", EPERM},
    DeniedSyscall{"clock_adjtime", EPERM}, DeniedSyscall{"iopl", EPERM}, DeniedSyscall{"ioperm", EPERM},
    DeniedSyscall{"vhangup", EPERM}, DeniedSyscall{"nfsservctl", EPERM}, DeniedSyscall{"uselib", EPERM},
    DeniedSyscall{"_sysctl", EPERM}, DeniedSyscall{"move_pages", EPERM}, DeniedSyscall{"migrate_pages", EPERM},
    DeniedSyscall{"mbind", EPERM}, DeniedSyscall{"set_mempolicy", EPERM},
};

constexpr unsigned long k_namespace_flags =
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | 0x80 /* CLONE_NEWTIME */;

// Syscalls newer than the libseccomp we build with knows by name (x86_64 numbers).
struct RawDenial {
  const char* name;
  int nr;
};
constexpr RawDenial k_raw_denied[] = {{"open_tree_attr", 467}};

using Filter = std::unique_ptr<void, decltype(&seccomp_release)>;

Result<void> rule(scmp_filter_ctx ctx, int err, const char* name, std::initializer_list<scmp_arg_cmp> args = {}) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return {}; // not a syscall on this architecture
  int rc = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(static_cast<std::uint16_t>(err)), nr,
                                  static_cast<unsigned>(args.size()), args.size() != 0 ? args.begin() : nullptr);
  if (rc != 0) return Failure{fmt::format("seccomp rule for {}", name), -rc, {}};
  return {};
}

// No setuid/setgid bits on files the code makes: the workspace is a host
// folder, and such a file keeps its bits there (systemd's RestrictSUIDSGID).
Result<void> add_setid_mode_rules(scmp_filter_ctx ctx) {
  for (unsigned long bit : {static_cast<unsigned long>(S_ISUID), static_cast<unsigned long>(S_ISGID)}) {
    const std::pair<const char*, unsigned> mode_arg[] = {{"chmod", 1}, {"fchmod", 1}, {"fchmodat", 2}, {"fchmodat2", 2},
                                                         {"creat", 1}, {"mkdir", 1}, {"mkdirat", 2}, {"mknod", 1},
                                                         {"mknodat", 2}};
    for (const auto& [name, arg] : mode_arg) {
      if (auto r = rule(ctx, EPERM, name, {SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, bit, bit)}); !r) return r;
    }
    // open/openat with O_CREAT (O_TMPFILE contains O_DIRECTORY, not O_CREAT: covered by fchmod later).
    const std::pair<const char*, unsigned> open_arg[] = {{"open", 1}, {"openat", 2}};
    for (const auto& [name, flags] : open_arg) {
      if (auto r = rule(ctx, EPERM, name, {SCMP_CMP(flags, SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT), SCMP_CMP(flags + 1, SCMP_CMP_MASKED_EQ, bit, bit)}); !r) return r;
    }
  }
  return {};
}

Result<void> add_argument_rules(scmp_filter_ctx ctx) {
  // clone with any namespace flag (the flags are the first argument on x86_64): one rule per bit.
  for (unsigned long bit = 1; bit != 0 && bit <= k_namespace_flags; bit <<= 1) {
    if ((k_namespace_flags & bit) == 0) continue;
    if (auto r = rule(ctx, EPERM, "clone", {SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit)}); !r) return r;
  }
  // ioctl(TIOCSTI/TIOCLINUX): compare only the low 32 bits, which is what the kernel uses.
  for (unsigned long request : {static_cast<unsigned long>(TIOCSTI), static_cast<unsigned long>(TIOCLINUX)}) {
    if (auto r = rule(ctx, EPERM, "ioctl", {SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFUL, request)}); !r) return r;
  }
  // personality: only the query (0xffffffff) and the default persona (0). libseccomp
  // allows one comparison per argument, so deny "bit b set and bit 31 clear" and
  // "bit 31 set and bit b clear" for every lower bit b: that is exactly everything else.
  for (unsigned bit = 0; bit < 31; ++bit) {
    const std::uint64_t b = 1ULL << bit, top = 1ULL << 31;
    if (auto r = rule(ctx, EPERM, "personality", {SCMP_A0(SCMP_CMP_MASKED_EQ, top | b, b)}); !r) return r;
    if (auto r = rule(ctx, EPERM, "personality", {SCMP_A0(SCMP_CMP_MASKED_EQ, top | b, top)}); !r) return r;
  }
  // socket: only AF_UNIX, AF_INET, AF_INET6 (netlink, packet, vsock, alg... are refused).
  for (int family = 0; family <= AF_MAX; ++family) {
    if (family == AF_UNIX || family == AF_INET || family == AF_INET6) continue;
    if (auto r = rule(ctx, EAFNOSUPPORT, "socket", {SCMP_A0(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFUL, static_cast<unsigned>(family))}); !r) return r;
  }
  if (auto r = rule(ctx, EAFNOSUPPORT, "socket", {SCMP_A0(SCMP_CMP_GT, AF_MAX)}); !r) return r;
  // socketpair creates sockets too (and loads the family's code): AF_UNIX only.
  for (int family = 0; family <= AF_MAX; ++family) {
    if (family == AF_UNIX) continue;
    if (auto r = rule(ctx, EAFNOSUPPORT, "socketpair", {SCMP_A0(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFUL, static_cast<unsigned>(family))}); !r) return r;
  }
  if (auto r = rule(ctx, EAFNOSUPPORT, "socketpair", {SCMP_A0(SCMP_CMP_GT, AF_MAX)}); !r) return r;
  // The obsolete socket(AF_INET, SOCK_PACKET) is an AF_PACKET socket in disguise.
  if (auto r = rule(ctx, EAFNOSUPPORT, "socket",
                    {SCMP_A0(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFUL, AF_INET), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xF, SOCK_PACKET)});
      !r) {
    return r;
  }
  return add_setid_mode_rules(ctx);
}

} // namespace

std::span<const DeniedSyscall> denied_syscalls() { return k_denied; }

Result<std::string> build_seccomp_program() {
  Filter filter(seccomp_init(SCMP_ACT_ALLOW), &seccomp_release);
  if (!filter) return Failure{"seccomp_init", ENOMEM, {}};
  scmp_filter_ctx ctx = filter.get();
  // Anything not x86_64 (i386 through int 0x80, x32) kills the whole process.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc != 0) {
    return Failure{"seccomp badarch action", -rc, {}};
  }
  // A binary tree over syscall numbers instead of a linear chain: every allowed
  // syscall (the common case) is checked in O(log n) rather than against every rule.
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) return Failure{"seccomp optimize", -rc, {}};
  for (const auto& denied : k_denied) {
    if (auto r = rule(ctx, denied.err, std::string(denied.name).c_str()); !r) return r.failure();
  }
  for (const auto& raw : k_raw_denied) {
    if (seccomp_syscall_resolve_name(raw.name) != __NR_SCMP_ERROR) continue; // the named rule covers it
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), raw.nr, 0); rc != 0) return Failure{fmt::format("seccomp rule for {}", raw.name), -rc, {}};
  }
  if (auto r = add_argument_rules(ctx); !r) return r.failure();
  sys::Fd out(::memfd_create("sandpit-seccomp", MFD_CLOEXEC));
  if (!out.valid()) return errno_failure("memfd_create");
  if (int rc = seccomp_export_bpf(ctx, out.get()); rc != 0) return Failure{"seccomp_export_bpf", -rc, {}};
  ::lseek(out.get(), 0, SEEK_SET);
  auto program = sys::read_all(out.get());
  if (!program) return program.failure();
  if (program->empty() || program->size() % sizeof(sock_filter) != 0) return Failure{"seccomp program", EINVAL, {}};
  return program;
}

Result<void> load_seccomp_program(std::string_view program) {
  if (program.empty() || program.size() % sizeof(sock_filter) != 0) return Failure{"load seccomp filter", EINVAL, "malformed program"};
  sock_fprog prog{static_cast<unsigned short>(program.size() / sizeof(sock_filter)),
                  reinterpret_cast<sock_filter*>(const_cast<char*>(program.data()))};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) return errno_failure("load seccomp filter");
  return {};
}

} // namespace sandpit::jail
