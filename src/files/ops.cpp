#include "sandpit/files/ops.hpp"

#include "beneath.hpp"

#include "sandpit/jail/spec.hpp"
#include "sandpit/util/strings.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace sandpit::files {
namespace {

[[noreturn]] void fail(const SandboxPath& path, int err, const std::string& what) {
  const auto problem = problem_of(err);
  std::string why = problem == Problem::not_found ? "no such file or directory"
                  : problem == Problem::refused   ? "goes through a symbolic link or a mount point: refused"
                                                  : Failure{what, err, {}}.message();
  throw FileError(problem, problem == Problem::failed ? ExitCode::code_failed : ExitCode::usage, path.shown(), why);
}

std::string parent_of(const std::string& relative) {
  auto slash = relative.rfind('/');
  return slash == std::string::npos ? std::string() : relative.substr(0, slash);
}

std::string read_link(int parent, const std::string& name) {
  char buf[4096];
  ssize_t n = ::readlinkat(parent, name.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The parent directory of `path`, opened (created with Create::yes) beneath its root.
enum class Create { yes, no };
sys::Fd open_parent(const Roots& roots, const SandboxPath& path, Create create) {
  if (path.relative.empty()) throw FileError(Problem::invalid, ExitCode::usage, path.shown(), "is the root of its area");
  const auto parent = parent_of(path.relative);
  auto fd = create == Create::yes ? make_dirs_beneath(roots.of(path.area), parent, jail::k_root_mode_host_id)
                                  : open_beneath(roots.of(path.area), parent, O_PATH | O_DIRECTORY);
  if (!fd) fail(path, fd.failure().err, "open the folder");
  auto dir = open_beneath(fd->get(), "", O_RDONLY | O_DIRECTORY);
  if (!dir) fail(path, dir.failure().err, "open the folder");
  return std::move(dir).value();
}

void walk(int dir, const std::string& prefix, unsigned depth, std::vector<Entry>& out) {
  auto listing = open_beneath(dir, "", O_RDONLY | O_DIRECTORY);
  if (!listing) return;
  DIR* d = ::fdopendir(::dup(listing->get()));
  if (d == nullptr) return;
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    Entry entry;
    entry.name = name;
    entry.relative = prefix.empty() ? name : prefix + "/" + name;
    if (::fstatat(listing->get(), name.c_str(), &entry.st, AT_SYMLINK_NOFOLLOW) != 0) continue; // gone meanwhile
    if (S_ISLNK(entry.st.st_mode)) entry.link = read_link(listing->get(), name);
    const bool descend = S_ISDIR(entry.st.st_mode) && depth > 1;
    out.push_back(std::move(entry));
    if (descend) {
      auto child = open_beneath(listing->get(), name, O_PATH | O_DIRECTORY);
      if (child) walk(child->get(), out.back().relative, depth - 1, out);
    }
  }
}

// Removes everything inside `dir`, then nothing else (the caller removes the directory).
void empty_dir(int dir, const SandboxPath& shown) {
  DIR* d = ::fdopendir(::dup(dir));
  if (d == nullptr) fail(shown, errno, "read the folder");
  std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  for (const auto& name : names) {
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      auto child = open_beneath(dir, name, O_RDONLY | O_DIRECTORY);
      if (!child) fail(shown.child(name), child.failure().err, "open");
      empty_dir(child->get(), shown.child(name));
    }
    if (::unlinkat(dir, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT) fail(shown.child(name), errno, "remove");
  }
}

// An fd path that reaches the inode itself (xattr calls take paths).
std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

sys::Fd open_regular(const Roots& roots, const SandboxPath& path) {
  auto inspected = inspect_beneath(roots.of(path.area), path.relative);
  if (!inspected) fail(path, inspected.failure().err, "open");
  if (!S_ISREG(inspected->st.st_mode)) throw FileError(Problem::invalid, ExitCode::usage, path.shown(), "is not a regular file");
  auto fd = reopen_for_reading(*inspected);
  if (!fd) fail(path, fd.failure().err, "open");
  return std::move(fd).value();
}

} // namespace

Problem problem_of(int err) {
  switch (err) {
  case ENOENT: return Problem::not_found;
  case EEXIST:
  case ENOTEMPTY: return Problem::exists;
  case ENOTDIR: return Problem::not_a_directory;
  case EISDIR: return Problem::is_a_directory;
  case ELOOP:
  case EXDEV: return Problem::refused;
  case EACCES:
  case EPERM:
  case EROFS: return Problem::denied;
  case ENOSPC:
  case EDQUOT: return Problem::no_space;
  case EFBIG: return Problem::too_large;
  case EINVAL:
  case ENAMETOOLONG: return Problem::invalid;
  default: return Problem::failed;
  }
}

Entry stat_entry(const Roots& roots, const SandboxPath& path) {
  Entry entry;
  entry.name = path.name();
  if (path.relative.empty()) {
    if (::fstat(roots.of(path.area), &entry.st) != 0) fail(path, errno, "stat");
    return entry;
  }
  auto parent = open_beneath(roots.of(path.area), parent_of(path.relative), O_PATH | O_DIRECTORY);
  if (!parent) fail(path, parent.failure().err, "stat");
  if (::fstatat(parent->get(), entry.name.c_str(), &entry.st, AT_SYMLINK_NOFOLLOW) != 0) fail(path, errno, "stat");
  if (S_ISLNK(entry.st.st_mode)) entry.link = read_link(parent->get(), entry.name);
  return entry;
}

std::vector<Entry> list_dir(const Roots& roots, const SandboxPath& path, unsigned depth) {
  auto dir = open_beneath(roots.of(path.area), path.relative, O_PATH | O_DIRECTORY);
  if (!dir) {
    if (dir.failure().err == ENOTDIR) throw FileError(Problem::not_a_directory, ExitCode::usage, path.shown(), "is not a directory");
    fail(path, dir.failure().err, "open");
  }
  std::vector<Entry> out;
  walk(dir->get(), "", std::max(depth, 1u), out);
  return out;
}

bool make_dir(const Roots& roots, const SandboxPath& path) {
  AsSandboxUser as_sandbox(path.area == Area::tmp);
  if (path.relative.empty()) return false;
  auto existing = inspect_beneath(roots.of(path.area), path.relative);
  if (existing) {
    if (S_ISDIR(existing->st.st_mode)) return false;
    throw FileError(Problem::exists, ExitCode::usage, path.shown(), "exists and is not a directory");
  }
  if (existing.failure().err != ENOENT) fail(path, existing.failure().err, "mkdir");
  auto made = make_dirs_beneath(roots.of(path.area), path.relative, jail::k_root_mode_host_id);
  if (!made) fail(path, made.failure().err, "mkdir");
  return true;
}

void move_entry(const Roots& roots, const SandboxPath& from, const SandboxPath& to) {
  AsSandboxUser as_sandbox(to.area == Area::tmp);
  if (from.area != to.area) {
    throw FileError(Problem::refused, ExitCode::usage, from.shown(), "cannot be moved to " + to.shown() + ": another filesystem");
  }
  auto source_parent = open_parent(roots, from, Create::no);
  struct stat st {};
  if (::fstatat(source_parent.get(), from.name().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail(from, errno, "move");
  auto target_parent = open_parent(roots, to, Create::yes);
  if (::renameat(source_parent.get(), from.name().c_str(), target_parent.get(), to.name().c_str()) != 0) fail(to, errno, "move");
}

sys::Fd open_dir(const Roots& roots, const SandboxPath& path) {
  auto dir = open_beneath(roots.of(path.area), path.relative, O_PATH | O_DIRECTORY);
  if (!dir) fail(path, dir.failure().err, "open");
  return std::move(dir).value();
}

void remove_entry(const Roots& roots, const SandboxPath& path) {
  if (path.relative.empty()) {
    // The area itself stays: what it holds goes.
    auto root = open_beneath(roots.of(path.area), "", O_RDONLY | O_DIRECTORY);
    if (!root) fail(path, root.failure().err, "open");
    empty_dir(root->get(), path);
    return;
  }
  sys::Fd parent;
  try {
    parent = open_parent(roots, path, Create::no);
  } catch (const FileError& e) {
    if (e.problem() == Problem::not_found) return;
    throw;
  }
  struct stat st {};
  if (::fstatat(parent.get(), path.name().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    fail(path, errno, "remove");
  }
  if (S_ISDIR(st.st_mode)) {
    auto dir = open_beneath(parent.get(), path.name(), O_RDONLY | O_DIRECTORY);
    if (!dir) fail(path, dir.failure().err, "remove");
    empty_dir(dir->get(), path);
  }
  if (::unlinkat(parent.get(), path.name().c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT) fail(path, errno, "remove");
}

std::map<std::string, std::string> read_metadata(const Roots& roots, const SandboxPath& path, const std::string& prefix) {
  std::map<std::string, std::string> out;
  auto inspected = inspect_beneath(roots.of(path.area), path.relative);
  if (!inspected || (!S_ISREG(inspected->st.st_mode) && !S_ISDIR(inspected->st.st_mode))) return out;
  const auto where = fd_path(inspected->fd.get());
  char names[8192];
  ssize_t n = ::listxattr(where.c_str(), names, sizeof names);
  for (ssize_t i = 0; i < n;) {
    std::string name(names + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    if (name.rfind(prefix, 0) != 0) continue;
    char value[4096];
    ssize_t v = ::getxattr(where.c_str(), name.c_str(), value, sizeof value);
    if (v >= 0) out[name.substr(prefix.size())] = std::string(value, static_cast<std::size_t>(v));
  }
  return out;
}

void write_metadata(const Roots& roots, const SandboxPath& path, const std::string& prefix, const std::map<std::string, std::string>& metadata) {
  AsSandboxUser as_sandbox(path.area == Area::tmp);
  auto fd = open_regular(roots, path);
  const auto where = fd_path(fd.get());
  for (const auto& [key, value] : read_metadata(roots, path, prefix)) {
    if (!metadata.contains(key)) (void)::removexattr(where.c_str(), (prefix + key).c_str());
  }
  for (const auto& [key, value] : metadata) {
    if (::setxattr(where.c_str(), (prefix + key).c_str(), value.data(), value.size(), 0) != 0) fail(path, errno, "set metadata");
  }
}

} // namespace sandpit::files
