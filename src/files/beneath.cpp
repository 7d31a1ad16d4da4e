#include "beneath.hpp"

#include "sandpit/jail/spec.hpp"
#include "sandpit/util/strings.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sandpit::files {

Result<sys::Fd> open_beneath(int dir, const std::string& path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  const std::string target = path.empty() ? "." : path;
  while (true) {
    long fd = ::syscall(SYS_openat2, dir, target.c_str(), &how, sizeof how);
    if (fd >= 0) return sys::Fd(static_cast<int>(fd));
    if (errno == EINTR || errno == EAGAIN) continue; // EAGAIN: a rename raced the lookup; try again
    return errno_failure("open " + target);
  }
}

AsSandboxUser::AsSandboxUser(bool needed) {
  if (!needed || ::geteuid() != 0) return;
  ::syscall(SYS_setfsgid, jail::k_root_mode_host_id);
  ::syscall(SYS_setfsuid, jail::k_root_mode_host_id);
  m_switched = true;
}

AsSandboxUser::~AsSandboxUser() {
  if (!m_switched) return;
  ::syscall(SYS_setfsuid, 0);
  ::syscall(SYS_setfsgid, 0);
}

Result<Inspected> inspect_beneath(int dir, const std::string& path) {
  auto fd = open_beneath(dir, path, O_PATH);
  if (!fd) return fd.failure();
  Inspected out{std::move(fd).value(), {}};
  if (::fstat(out.fd.get(), &out.st) != 0) return errno_failure("stat " + path);
  return out;
}

Result<sys::Fd> reopen_for_reading(const Inspected& inspected) {
  const bool is_dir = S_ISDIR(inspected.st.st_mode);
  if (!is_dir && !S_ISREG(inspected.st.st_mode)) return Failure{"open", EINVAL, "not a regular file or directory"};
  // The O_PATH fd names the inode we checked; /proc/self/fd/N opens that inode, not a path.
  const std::string self = "/proc/self/fd/" + std::to_string(inspected.fd.get());
  int fd = ::open(self.c_str(), (is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return errno_failure("reopen");
  sys::Fd out(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_failure("stat");
  if (st.st_dev != inspected.st.st_dev || st.st_ino != inspected.st.st_ino) return Failure{"reopen", EXDEV, "the file changed while it was opened"};
  return out;
}

Result<sys::Fd> make_dirs_beneath(int dir, const std::string& path, uid_t owner) {
  auto current = open_beneath(dir, "", O_PATH | O_DIRECTORY);
  if (!current) return current;
  for (const auto& part : strings::split(path, '/')) {
    if (part.empty()) continue;
    auto next = open_beneath(current->get(), part, O_PATH | O_DIRECTORY);
    if (!next && next.failure().err == ENOENT) {
      if (::mkdirat(current->get(), part.c_str(), 0755) != 0 && errno != EEXIST) return errno_failure("mkdir " + part);
      next = open_beneath(current->get(), part, O_PATH | O_DIRECTORY);
      if (next && ::geteuid() == 0) (void)::fchownat(next->get(), "", owner, owner, AT_EMPTY_PATH);
    }
    if (!next) return next;
    current = std::move(next);
  }
  return current;
}

std::string_view kind_of(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

} // namespace sandpit::files
