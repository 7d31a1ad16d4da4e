#include "image.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sandpit::files::image {

void fail(const std::string& what, const std::string& why) { throw Error(ExitCode::sandbox_setup, what, why); }

int run_tool(std::vector<std::string> argv, Chatter chatter) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  if (chatter == Chatter::hidden) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string find_program(std::initializer_list<const char*> candidates) {
  for (const char* path : candidates) {
    if (::access(path, X_OK) == 0) return path;
  }
  return {};
}

void create(const Area& area, uid_t owner, gid_t group) {
  const auto tmp = area.image.string() + ".new";
  {
    sys::Fd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(area.size)) != 0) fail("create " + tmp, std::strerror(errno));
  }
  int rc = run_tool({k_mke2fs, "-q", "-F", "-t", "ext4", "-m", "0", "-L", "sandpit", "-E",
                     fmt::format("root_owner={}:{},lazy_itable_init=1,lazy_journal_init=1", owner, group), "-d", area.dir.string(), tmp});
  if (rc != 0) {
    ::unlink(tmp.c_str());
    fail("mke2fs " + tmp, rc < 0 ? fmt::format("cannot run {} (install e2fsprogs)", k_mke2fs) : fmt::format("exit status {}", rc));
  }
  if (::rename(tmp.c_str(), area.image.c_str()) != 0) fail("rename " + tmp, std::strerror(errno));
  // The files are in the image now; the folder becomes its mount point.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(area.dir, ec)) std::filesystem::remove_all(entry.path(), ec);
}

bool grows(const Area& area) {
  struct stat st {};
  return ::stat(area.image.c_str(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) < area.size;
}

void grow_if_raised(const Area& area) {
  const auto& image = area.image;
  struct stat st {};
  if (::stat(image.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) >= area.size) return;
  // e2fsck -p: 0 clean, 1 errors fixed; resize2fs insists on a checked filesystem.
  if (int rc = run_tool({"/sbin/e2fsck", "-f", "-p", image.string()}, Chatter::hidden); rc != 0 && rc != 1) {
    fail("grow " + image.string(), fmt::format("e2fsck exit status {}", rc));
  }
  if (::truncate(image.c_str(), static_cast<off_t>(area.size)) != 0) fail("grow " + image.string(), std::strerror(errno));
  if (int rc = run_tool({"/sbin/resize2fs", image.string()}, Chatter::hidden); rc != 0) {
    // Back to the size the filesystem still has, so the next attach tries again.
    [[maybe_unused]] int back = ::truncate(image.c_str(), st.st_size);
    fail("grow " + image.string(), fmt::format("resize2fs exit status {}", rc));
  }
}

bool needs_check(const std::filesystem::path& image) {
  // The ext2/3/4 superblock: 1024 bytes in; s_magic at 56, s_state at 58, s_feature_incompat at 96.
  constexpr std::uint16_t k_magic = 0xEF53, k_valid = 0x1, k_errors = 0x2;
  constexpr std::uint32_t k_recover = 0x4;
  std::array<unsigned char, 100> sb{};
  sys::Fd fd(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || ::pread(fd.get(), sb.data(), sb.size(), 1024) != static_cast<ssize_t>(sb.size())) return true;
  auto le16 = [&](std::size_t at) { return static_cast<std::uint16_t>(sb[at] | sb[at + 1] << 8); };
  const std::uint32_t incompat = le16(96) | static_cast<std::uint32_t>(le16(98)) << 16;
  const std::uint16_t state = le16(58);
  return le16(56) != k_magic || (state & k_valid) == 0 || (state & k_errors) != 0 || (incompat & k_recover) != 0;
}

void check(const std::filesystem::path& image) {
  // e2fsck -p: 0 clean, 1 errors fixed, 2 fixed and "reboot" (meaningless for an image).
  int rc = run_tool({"/sbin/e2fsck", "-p", image.string()}, Chatter::hidden);
  if (rc < 0 || rc > 2) {
    fail("check " + image.string(), fmt::format("e2fsck -p exit status {}: run 'e2fsck -f {}' by hand", rc, image.string()));
  }
}

void remove_lost_found(const std::filesystem::path& image) {
  // Best effort: a lost+found with something in it stays, as it should.
  (void)run_tool({"/sbin/debugfs", "-w", "-R", "rmdir /lost+found", image.string()}, Chatter::hidden);
}

bool is_mountpoint(const std::filesystem::path& dir) {
  struct stat self {}, parent {};
  if (::stat(dir.c_str(), &self) != 0 || ::stat((dir / "..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

} // namespace sandpit::files::image
