// fd-relative file operations that cannot leave a directory: openat2 with RESOLVE_BENEATH and no symlinks.
#pragma once

#include "sandpit/sys/fd.hpp"
#include "sandpit/util/result.hpp"

#include <string>
#include <string_view>
#include <sys/stat.h>
#include <sys/types.h>

namespace sandpit::files {

// openat2(dir, path, flags | O_NOFOLLOW | O_CLOEXEC) beneath `dir`, refusing every symlink, magic link and
// mount crossing on the way. `path` may have several components; "" opens `dir` itself again.
Result<sys::Fd> open_beneath(int dir, const std::string& path, int flags, mode_t mode = 0);

// Opens `path` beneath `dir` as O_PATH (no side effects, FIFOs and devices included) and fstats it.
struct Inspected {
  sys::Fd fd;
  struct stat st {};
};
Result<Inspected> inspect_beneath(int dir, const std::string& path);

// Re-opens an O_PATH fd of a regular file or directory for reading, and checks it is the same inode.
Result<sys::Fd> reopen_for_reading(const Inspected& inspected);

// Opens directory `path` beneath `dir`, creating each missing component (0755; as root owned by `owner`).
Result<sys::Fd> make_dirs_beneath(int dir, const std::string& path, uid_t owner);

// While it lives, this thread acts on files as the sandbox's user (as root: the
// host id that user maps to), for `area`s mounted inside the jail's user
// namespace (/tmp): such a filesystem refuses to create files for an owner it
// cannot map (EOVERFLOW). setfsuid and setfsgid are per thread.
class AsSandboxUser {
public:
  explicit AsSandboxUser(bool needed);
  ~AsSandboxUser();
  AsSandboxUser(const AsSandboxUser&) = delete;
  AsSandboxUser& operator=(const AsSandboxUser&) = delete;

private:
  bool m_switched = false;
};

// "a FIFO", "a device", "a socket", "a symbolic link", ... for messages.
std::string_view kind_of(mode_t mode);

} // namespace sandpit::files
