#include "new_file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/fs.h>
#include <random>
#include <stdio.h>
#include <unistd.h>

namespace sandpit::files {
namespace {

std::string temp_name(const std::string& prefix) {
  std::random_device rd;
  return fmt::format("{}{:08x}{:08x}", prefix, rd(), rd());
}

} // namespace

Result<NewFile> NewFile::create(int dir, std::string prefix, mode_t mode) {
  int fd = ::openat(dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
  if (fd >= 0) return NewFile(dir, sys::Fd(fd), "", std::move(prefix));
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return errno_failure("create");
  auto temp = temp_name(prefix);
  fd = ::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return errno_failure("create");
  return NewFile(dir, sys::Fd(fd), std::move(temp), std::move(prefix));
}

NewFile::~NewFile() {
  if (!m_temp.empty()) ::unlinkat(m_dir, m_temp.c_str(), 0);
}

Result<void> NewFile::publish(const std::string& name, Replace replace) {
  if (m_temp.empty()) {
    // Nameless until now: linked under its own name, or under a temporary one renamed over the old file.
    const auto self = fmt::format("/proc/self/fd/{}", m_fd.get());
    if (replace == Replace::no) {
      if (::linkat(AT_FDCWD, self.c_str(), m_dir, name.c_str(), AT_SYMLINK_FOLLOW) != 0) return errno_failure("link");
      return {};
    }
    auto temp = temp_name(m_prefix);
    if (::linkat(AT_FDCWD, self.c_str(), m_dir, temp.c_str(), AT_SYMLINK_FOLLOW) != 0) return errno_failure("link");
    m_temp = std::move(temp);
  }
  if (replace == Replace::yes) {
    if (::renameat(m_dir, m_temp.c_str(), m_dir, name.c_str()) != 0) return errno_failure("rename");
  } else if (::renameat2(m_dir, m_temp.c_str(), m_dir, name.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno != EINVAL) return errno_failure("rename");
    // A filesystem without RENAME_NOREPLACE: a hard link fails on an existing name just the same.
    if (::linkat(m_dir, m_temp.c_str(), m_dir, name.c_str(), 0) != 0) return errno_failure("link");
    ::unlinkat(m_dir, m_temp.c_str(), 0);
  }
  m_temp.clear();
  return {};
}

} // namespace sandpit::files
