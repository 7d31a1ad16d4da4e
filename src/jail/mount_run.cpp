// run_plan: executes the mount plan inside the jail init (before seccomp and the capability drop).
#include "sandpit/jail/mounts.hpp"

#include "sandpit/sys/fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/mount.h>
#include <map>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sandpit::jail {
namespace {

Result<void> mkdir_p(const std::string& path) {
  for (std::size_t pos = 1; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    std::string part = path.substr(0, pos);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) return errno_failure("mkdir");
  }
  return {};
}

// The flags a remount must keep: in a user namespace, clearing a locked
// nosuid/nodev/noexec/atime flag of the source mount fails with EPERM.
unsigned long locked_flags(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return 0;
  unsigned long out = 0;
  if ((st.f_flag & ST_NOSUID) != 0) out |= MS_NOSUID;
  if ((st.f_flag & ST_NODEV) != 0) out |= MS_NODEV;
  if ((st.f_flag & ST_NOEXEC) != 0) out |= MS_NOEXEC;
  if ((st.f_flag & ST_NOATIME) != 0) out |= MS_NOATIME;
  if ((st.f_flag & ST_NODIRATIME) != 0) out |= MS_NODIRATIME;
  if ((st.f_flag & ST_RELATIME) != 0) out |= MS_RELATIME;
  return out;
}

Result<void> remount(const MountStep& s) {
  if (s.recursive && (s.flags & MS_RDONLY) != 0) {
    // Read-only for every submount too (e.g. anything mounted below /usr).
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if ((s.flags & MS_NOEXEC) != 0) attr.attr_set |= MOUNT_ATTR_NOEXEC;
    if (::syscall(SYS_mount_setattr, AT_FDCWD, s.target.c_str(), AT_RECURSIVE, &attr, sizeof attr) == 0) return {};
    if (errno != ENOSYS) return errno_failure("mount_setattr");
  }
  unsigned long flags = MS_BIND | MS_REMOUNT | s.flags | locked_flags(s.target);
  if (::mount(nullptr, s.target.c_str(), nullptr, flags, nullptr) != 0) return errno_failure("mount");
  return {};
}

Result<void> write_new_file(const std::string& path, const std::string& content) {
  sys::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) return errno_failure("open");
  return sys::write_all(fd.get(), content);
}

Result<void> pivot(const std::string& new_root) {
  if (::chdir(new_root.c_str()) != 0) return errno_failure("chdir");
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return errno_failure("pivot_root");
  // The old root is now stacked under "."; detach it so nothing of the host stays reachable.
  if (::umount2(".", MNT_DETACH) != 0) return errno_failure("umount old root");
  if (::chdir("/") != 0) return errno_failure("chdir /");
  return {};
}

Result<void> run_step(const MountStep& s, const std::string& source, const std::string& new_root) {
  switch (s.kind) {
  case StepKind::make_private:
    if (::mount(nullptr, "/", nullptr, s.flags, nullptr) != 0) return errno_failure("mount");
    return {};
  case StepKind::tmpfs:
  case StepKind::proc:
    if (::mount(s.source.c_str(), s.target.c_str(), s.source.c_str(), s.flags, s.data.empty() ? nullptr : s.data.c_str()) != 0) {
      return errno_failure("mount");
    }
    return {};
  case StepKind::mkdir: return mkdir_p(s.target);
  case StepKind::touch: {
    sys::Fd fd(::open(s.target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd.valid()) return errno_failure("open");
    return {};
  }
  case StepKind::symlink:
    if (::symlink(s.source.c_str(), s.target.c_str()) != 0) return errno_failure("symlink");
    return {};
  case StepKind::bind:
    if (::mount(source.c_str(), s.target.c_str(), nullptr, s.flags, nullptr) != 0) return errno_failure("mount");
    return {};
  case StepKind::remount: return remount(s);
  case StepKind::write_file: return write_new_file(s.target, s.source);
  case StepKind::write_optional: (void)sys::write_file(s.target, s.source); return {};
  case StepKind::pivot_root: return pivot(new_root);
  }
  return {};
}

} // namespace

std::vector<HostEntry> inspect_host_paths(const std::vector<std::string>& paths) {
  std::vector<HostEntry> out;
  for (const auto& path : paths) {
    HostEntry e{path, HostEntry::Type::missing, {}};
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) e.type = HostEntry::Type::directory;
      else if (S_ISREG(st.st_mode)) e.type = HostEntry::Type::file;
      else if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
        if (n > 0) {
          e.type = HostEntry::Type::symlink;
          e.link_target.assign(buf, static_cast<std::size_t>(n));
        }
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<void> run_plan(const std::vector<MountStep>& steps, const std::string& new_root) {
  // Open host bind sources up front: the tmpfs over new_root may hide them later.
  std::map<std::string, sys::Fd> sources;
  for (const auto& s : steps) {
    if (s.kind != StepKind::bind || s.within || s.source.rfind("/proc/self/fd/", 0) == 0) continue;
    sys::Fd fd(::open(s.source.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid() && !s.optional) return errno_failure("open " + s.source);
    sources.emplace(s.source, std::move(fd));
  }
  for (const auto& s : steps) {
    std::string source = s.source;
    if (auto it = sources.find(s.source); s.kind == StepKind::bind && it != sources.end()) {
      if (!it->second.valid()) continue;
      source = "/proc/self/fd/" + std::to_string(it->second.get());
    }
    auto r = run_step(s, source, new_root);
    if (!r) {
      if (s.optional && (r.failure().err == ENOENT)) continue;
      return Failure{s.describe(new_root), r.failure().err, {}};
    }
  }
  return {};
}

} // namespace sandpit::jail
