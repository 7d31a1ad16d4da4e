#include "launch.hpp"

#include "sandpit/jail/init.hpp"

#include <array>
#include <vector>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace sandpit::jail {
namespace {

enum class ChildStep : int { pdeathsig = 1, cgroup, wait_parent, setsid, workspace, persist, setgroups, securebits, setresgid, setresuid, capget, capset, ambient, fds, exec };

const char* step_name(int step) {
  switch (static_cast<ChildStep>(step)) {
  case ChildStep::pdeathsig: return "prctl(PR_SET_PDEATHSIG)";
  case ChildStep::cgroup: return "join cgroup";
  case ChildStep::wait_parent: return "wait for parent";
  case ChildStep::setsid: return "setsid";
  case ChildStep::workspace: return "open workspace";
  case ChildStep::persist: return "open persistent volume";
  case ChildStep::setgroups: return "setgroups";
  case ChildStep::securebits: return "prctl(PR_SET_SECUREBITS)";
  case ChildStep::setresgid: return "setresgid";
  case ChildStep::setresuid: return "setresuid";
  case ChildStep::capget: return "capget";
  case ChildStep::capset: return "capset";
  case ChildStep::ambient: return "raise ambient capabilities";
  case ChildStep::fds: return "set up init fds";
  case ChildStep::exec: return "exec jail init";
  }
  return "unknown step";
}

// What the init needs to set the jail up; all else is dropped by the init itself.
constexpr std::array k_init_caps{CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SETPCAP, CAP_SETUID, CAP_SETGID, CAP_SYS_RESOURCE};

struct ChildArgs {
  int go_fd, err_fd, ctl_fd, exe_fd, null_fd;
  const char* workspace;
  const char* persist; // nullptr: no /persist
  const int* cgroup_fds; // v1 `tasks` files, opened by the parent
  int cgroup_fd_count;
  bool root_mode;
};

struct ChildReport {
  int step;
  int err;
};

[[noreturn]] void child_fail(int err_fd, ChildStep step) {
  ChildReport report{static_cast<int>(step), errno};
  [[maybe_unused]] auto n = ::write(err_fd, &report, sizeof report);
  ::_exit(125);
}

// Opens directory `path` (O_PATH) as fd `target`, inherited across exec.
bool place_dir(const char* path, int target) {
  int fd = ::open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0; // dup2 onto itself would keep O_CLOEXEC
  return ::dup2(fd, target) == target;
}

[[noreturn]] void child_main(const ChildArgs& a) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(a.err_fd, ChildStep::pdeathsig);
  ::signal(SIGPIPE, SIG_DFL); // the client ignores it; the sandbox must not inherit that
  // Join the jail's cgroup before anything else runs; everything the init
  // spawns is born inside it.
  for (int i = 0; i < a.cgroup_fd_count; ++i) {
    if (::write(a.cgroup_fds[i], "0", 1) != 1) child_fail(a.err_fd, ChildStep::cgroup);
  }
  char go = 0;
  if (::read(a.go_fd, &go, 1) != 1) ::_exit(125); // the parent gave up
  if (::setsid() < 0) child_fail(a.err_fd, ChildStep::setsid);
  // Opened here, inside the new mount namespace and before we become the
  // sandbox user: a bind mount's source must belong to our own namespace, and
  // as host root the state directory may not be reachable by nobody.
  if (!place_dir(a.workspace, k_init_workspace_fd)) child_fail(a.err_fd, ChildStep::workspace);
  if (a.persist != nullptr && !place_dir(a.persist, k_init_persist_fd)) child_fail(a.err_fd, ChildStep::persist);
  // As host root, drop root's supplementary groups: they would still count on the host.
  if (a.root_mode && ::setgroups(0, nullptr) != 0) child_fail(a.err_fd, ChildStep::setgroups);
  if (::prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP) != 0) child_fail(a.err_fd, ChildStep::securebits);
  if (::setresgid(k_inside_id, k_inside_id, k_inside_id) != 0) child_fail(a.err_fd, ChildStep::setresgid);
  if (::setresuid(k_inside_id, k_inside_id, k_inside_id) != 0) child_fail(a.err_fd, ChildStep::setresuid);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) child_fail(a.err_fd, ChildStep::capget);
  data[0].inheritable = data[0].permitted;
  data[1].inheritable = data[1].permitted;
  if (::syscall(SYS_capset, &header, data) != 0) child_fail(a.err_fd, ChildStep::capset);
  for (int cap : k_init_caps) {
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) child_fail(a.err_fd, ChildStep::ambient);
  }
  if (::dup2(a.ctl_fd, k_init_ctl_fd) != k_init_ctl_fd) child_fail(a.err_fd, ChildStep::fds);
  for (int fd = 0; fd < 3; ++fd) {
    if (::dup2(a.null_fd, fd) != fd) child_fail(a.err_fd, ChildStep::fds);
  }
  // Nothing of the host's beyond 0-5 survives the exec (runc CVE-2024-21626).
  if (::syscall(SYS_close_range, 6U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 6; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  static char arg0[] = "sandpit-init";
  static char arg1[] = "__jail-init";
  char* argv[] = {arg0, arg1, nullptr};
  char* envp[] = {nullptr};
  ::syscall(SYS_execveat, a.exe_fd, "", argv, envp, AT_EMPTY_PATH);
  child_fail(a.err_fd, ChildStep::exec);
}

// Moves `fd` to a number >= 10, close-on-exec, so dup2 onto 0..3 cannot clobber it.
Result<sys::Fd> high_fd(int fd) {
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (moved < 0) return errno_failure("fcntl(F_DUPFD_CLOEXEC)");
  return sys::Fd(moved);
}

} // namespace

unsigned long clone_flags(const JailSpec& spec) {
  unsigned long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
  if (!spec.network) flags |= CLONE_NEWNET;
  return flags;
}

Result<LaunchedInit> launch_init(const JailSpec& spec, Cgroup* cgroup, const IdMaps& maps) {
  sys::Fd exe(::open("/proc/self/exe", O_PATH | O_CLOEXEC));
  if (!exe.valid()) return errno_failure("open /proc/self/exe");
  sys::Fd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd.valid()) return errno_failure("open /dev/null");
  auto go = sys::make_pipe();
  auto err = sys::make_pipe();
  auto ctl = sys::make_socketpair(SOCK_SEQPACKET);
  if (!go || !err || !ctl) return Failure{"create jail channels", errno, {}};
  auto go_r = high_fd(go->first.get()), err_w = high_fd(err->second.get()), ctl_c = high_fd(ctl->second.get()),
       exe_h = high_fd(exe.get()), null_h = high_fd(null_fd.get());
  if (!go_r || !err_w || !ctl_c || !exe_h || !null_h) return Failure{"fcntl(F_DUPFD_CLOEXEC)", errno, {}};
  go->first.reset();
  err->second.reset();
  ctl->second.reset();

  std::vector<sys::Fd> cgroup_files;
  std::vector<int> cgroup_fds;
  if (cgroup != nullptr) {
    for (const auto& path : cgroup->self_attach_files()) {
      sys::Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd.valid()) return errno_failure("open " + path);
      auto high = high_fd(fd.get());
      if (!high) return high.failure();
      cgroup_fds.push_back(high->get());
      cgroup_files.push_back(std::move(high).value());
    }
  }
  ChildArgs args{go_r->get(),
                 err_w->get(),
                 ctl_c->get(),
                 exe_h->get(),
                 null_h->get(),
                 spec.workspace_dir.c_str(),
                 spec.persist_dir.empty() ? nullptr : spec.persist_dir.c_str(),
                 cgroup_fds.data(),
                 static_cast<int>(cgroup_fds.size()),
                 maps.root_mode};
  long pid = ::syscall(SYS_clone, clone_flags(spec) | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid < 0) return errno_failure("clone");
  if (pid == 0) child_main(args);

  go_r->reset();
  err_w->reset();
  ctl_c->reset();
  auto abandon = [&](Failure failure) -> Result<LaunchedInit> {
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return failure;
  };
  if (auto r = write_id_maps(static_cast<pid_t>(pid), maps); !r) return abandon(r.failure());
  cgroup_files.clear();
  if (cgroup != nullptr && cgroup_fds.empty()) {
    if (auto r = cgroup->add(static_cast<pid_t>(pid)); !r) return abandon(r.failure());
  }
  if (::write(go->second.get(), "g", 1) != 1) return abandon(errno_failure("signal jail child"));
  return LaunchedInit{static_cast<pid_t>(pid), std::move(ctl->first), std::move(err->first)};
}

std::optional<Failure> child_failure(LaunchedInit& launched) {
  if (!launched.child_report.valid()) return std::nullopt;
  ChildReport report{};
  ssize_t n;
  while ((n = ::read(launched.child_report.get(), &report, sizeof report)) < 0 && errno == EINTR) {
  }
  launched.child_report.reset();
  if (n != sizeof report) return std::nullopt;
  return Failure{step_name(report.step), report.err, {}};
}

} // namespace sandpit::jail
