// Mounting a folder of ours into a jail that is already running (a pool sandbox lent to a --fresh run).
// open_tree(OPEN_TREE_CLONE) makes a detached copy of the mount here; a child joins the jail's user and
// mount namespaces and move_mount()s it over the target (../shared/notes/attach_after_start.py).
#include "sandpit/files/quota.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandpit::files {

void attach_area(pid_t init_pid, const std::filesystem::path& from, const std::vector<std::string>& targets) {
  auto fail = [&](const std::string& step, int err) {
    throw Error(ExitCode::sandbox_setup, "attach " + from.string() + " to the sandbox", step + ": " + std::strerror(err));
  };
  sys::Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, init_pid, 0)));
  if (!pidfd.valid()) fail("pidfd_open", errno);
  std::vector<sys::Fd> trees;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    sys::Fd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, from.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
    if (!tree.valid()) fail("open_tree", errno);
    trees.push_back(std::move(tree));
  }
  std::vector<const char*> paths;
  for (const auto& t : targets) paths.push_back(t.c_str());
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) fail("pipe", errno);
  sys::Fd read_end(report[0]), write_end(report[1]);
  // The child makes raw syscalls only: this process may have other threads.
  const pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0));
  if (pid < 0) fail("clone", errno);
  if (pid == 0) {
    int err = 0;
    if (::syscall(SYS_setns, pidfd.get(), CLONE_NEWUSER | CLONE_NEWNS) != 0) err = errno;
    for (std::size_t i = 0; err == 0 && i < paths.size(); ++i) {
      if (::syscall(SYS_move_mount, trees[i].get(), "", AT_FDCWD, paths[i], MOVE_MOUNT_F_EMPTY_PATH) != 0) err = errno;
    }
    [[maybe_unused]] auto n = ::write(write_end.get(), &err, sizeof err);
    ::_exit(err == 0 ? 0 : 1);
  }
  write_end.reset();
  int err = EPIPE;
  if (::read(read_end.get(), &err, sizeof err) != sizeof err) err = EPIPE;
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (err != 0) fail("move_mount into the jail", err);
}

} // namespace sandpit::files
