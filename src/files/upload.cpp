// Host -> sandbox. The host side is the user's own; the sandbox side is reached only beneath the root fds.
#include "beneath.hpp"
#include "copy.hpp"
#include "new_file.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/files.hpp"
#include "sandpit/util/units.hpp"
#include "sandpit/jail/spec.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::files {
namespace {

std::string why_copy_failed(const Failure& f, const Transfer& options, Area area) {
  if (f.err == EFBIG) return over_cap_text(options);
  if (f.err == ENOSPC || f.err == EDQUOT) {
    return fmt::format("no space left in {} (its quota is full; nothing was replaced)", SandboxPath{area, ""}.shown());
  }
  return f.message();
}

struct Uploader {
  const Transfer& options;
  Area area;
  uid_t owner = jail::k_root_mode_host_id;
  Report report;
  std::uint64_t used = 0;

  // Writes `src` as `name` in `parent`: a new file, given the name (over whatever was there) once written in full.
  void file(int src, const struct stat& st, int parent, const std::string& name, const std::string& host, const SandboxPath& shown) {
    auto created = NewFile::create(parent, ".sandpit-upload-", 0600);
    if (!created) throw FileError(problem_of(created.failure().err), ExitCode::code_failed, "upload " + shown.shown(), created.failure().message());
    const int out = created->fd();
    auto copied = copy_hashed(src, out, options.max_bytes - used);
    auto fail = [&](Problem problem, const std::string& why) { throw FileError(problem, ExitCode::code_failed, "upload " + host, why); };
    if (!copied) fail(problem_of(copied.failure().err), why_copy_failed(copied.failure(), options, area));
    const mode_t mode = (st.st_mode & 0111) != 0 ? 0755 : 0644;
    if (::fchmod(out, mode) != 0 || (::geteuid() == 0 && ::fchown(out, owner, owner) != 0)) fail(problem_of(errno), errno_failure("chmod").message());
    if (auto published = created->publish(name, Replace::yes); !published) {
      const int err = published.failure().err;
      const bool dir = err == EISDIR || err == ENOTEMPTY || err == EEXIST;
      fail(dir ? Problem::is_a_directory : problem_of(err), dir ? shown.shown() + " is a directory in the sandbox" : published.failure().message());
    }
    used += copied->bytes;
    report.files.push_back({host, shown.shown(), copied->bytes, copied->sha256});
  }

  void tree(int src_dir, int dest_dir, const std::string& host, const SandboxPath& shown) {
    int listing = ::dup(src_dir);
    DIR* dir = listing >= 0 ? ::fdopendir(listing) : nullptr;
    if (dir == nullptr) throw Error(ExitCode::code_failed, "upload " + host, errno_failure("read directory").message());
    std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, ::closedir);
    while (auto* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      const std::string host_child = host + "/" + name;
      // Looked at before it is opened: a device or FIFO in the host tree is never opened.
      struct stat st {};
      if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        report.skipped.push_back({host_child, st.st_mode != 0 ? std::string(kind_of(st.st_mode)) : errno_failure("stat").message()});
        continue;
      }
      int fd = ::openat(src_dir, name.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
      if (fd < 0 || ::fstat(fd, &st) != 0) {
        if (fd >= 0) ::close(fd);
        report.skipped.push_back({host_child, errno_failure("open").message()});
        continue;
      }
      sys::Fd child(fd);
      if (S_ISDIR(st.st_mode)) {
        auto made = make_dirs_beneath(dest_dir, name, owner);
        if (!made) throw Error(ExitCode::code_failed, "upload " + host_child, made.failure().message());
        auto writable = open_beneath(made->get(), "", O_RDONLY | O_DIRECTORY);
        if (!writable) throw Error(ExitCode::code_failed, "upload " + host_child, writable.failure().message());
        tree(fd, writable->get(), host_child, shown.child(name));
      } else if (S_ISREG(st.st_mode)) {
        ::fcntl(fd, F_SETFL, 0);
        file(fd, st, dest_dir, name, host_child, shown.child(name));
      } else {
        report.skipped.push_back({host_child, std::string(kind_of(st.st_mode))});
      }
    }
  }
};

std::string host_name(const std::filesystem::path& host) {
  auto normal = std::filesystem::absolute(host).lexically_normal();
  auto name = normal.filename().string();
  if (name.empty()) name = normal.parent_path().filename().string();
  return name.empty() ? "upload" : name;
}

// Where the upload lands: inside `destination` if it is a directory, else at it.
SandboxPath target_of(const Roots& roots, const SandboxPath& destination, const std::string& name) {
  auto existing = inspect_beneath(roots.of(destination.area), destination.relative);
  if (existing && S_ISDIR(existing->st.st_mode)) return destination.child(name);
  if (!existing && existing.failure().err != ENOENT) {
    throw Error(ExitCode::usage, destination.shown(),
                existing.failure().err == ELOOP || existing.failure().err == EXDEV
                    ? "goes through a symbolic link or a mount point: refused"
                    : existing.failure().message());
  }
  return destination;
}

} // namespace

Report upload(const std::filesystem::path& host, const Roots& roots, const SandboxPath& destination, const Transfer& options) {
  int fd = ::open(host.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw Error(ExitCode::usage, "upload " + host.string(), errno_failure("open").message());
  sys::Fd source(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(ExitCode::usage, "upload " + host.string(), errno_failure("stat").message());
  if (S_ISDIR(st.st_mode) && options.recursive == Recursive::no) {
    throw Error(ExitCode::usage, "upload " + host.string(), "is a directory (use -r to copy a tree)");
  }
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
    throw Error(ExitCode::usage, "upload " + host.string(), fmt::format("is {}: only files and directories are copied", kind_of(st.st_mode)));
  }
  auto target = target_of(roots, destination, host_name(host));
  if (target.relative.empty()) throw Error(ExitCode::usage, target.shown(), "cannot be replaced");
  auto parent_path = target.relative.substr(0, target.relative.rfind('/') == std::string::npos ? 0 : target.relative.rfind('/'));
  Uploader up{options, target.area, jail::k_root_mode_host_id, {}, 0};
  auto parent = make_dirs_beneath(roots.of(target.area), parent_path, up.owner);
  if (!parent) throw Error(ExitCode::usage, target.shown(), "its folder goes through a symbolic link or cannot be created: " + parent.failure().message());
  auto parent_rw = open_beneath(parent->get(), "", O_RDONLY | O_DIRECTORY);
  if (!parent_rw) throw Error(ExitCode::code_failed, target.shown(), parent_rw.failure().message());
  if (S_ISREG(st.st_mode)) {
    ::fcntl(fd, F_SETFL, 0);
    up.file(fd, st, parent_rw->get(), target.name(), host.string(), target);
  } else {
    auto made = make_dirs_beneath(parent_rw->get(), target.name(), up.owner);
    if (!made) throw Error(ExitCode::usage, target.shown(), "is not a directory or cannot be created: " + made.failure().message());
    auto dest = open_beneath(made->get(), "", O_RDONLY | O_DIRECTORY);
    if (!dest) throw Error(ExitCode::code_failed, target.shown(), dest.failure().message());
    up.tree(fd, dest->get(), host.string(), target);
  }
  return std::move(up.report);
}

Copied upload_from(int source, const std::string& shown, const Roots& roots, const SandboxPath& destination, const Transfer& options) {
  AsSandboxUser as_sandbox(destination.area == Area::tmp);
  if (destination.relative.empty()) throw FileError(Problem::is_a_directory, ExitCode::usage, destination.shown(), "is a directory");
  auto parent_path = destination.relative.substr(0, destination.relative.rfind('/') == std::string::npos ? 0 : destination.relative.rfind('/'));
  Uploader up{options, destination.area, jail::k_root_mode_host_id, {}, 0};
  auto parent = make_dirs_beneath(roots.of(destination.area), parent_path, up.owner);
  if (!parent) {
    throw FileError(problem_of(parent.failure().err), ExitCode::usage, destination.shown(),
                    "its folder goes through a symbolic link or cannot be created: " + parent.failure().message());
  }
  auto parent_rw = open_beneath(parent->get(), "", O_RDONLY | O_DIRECTORY);
  if (!parent_rw) throw FileError(problem_of(parent_rw.failure().err), ExitCode::code_failed, destination.shown(), parent_rw.failure().message());
  struct stat st {};
  st.st_mode = S_IFREG | 0644;
  up.file(source, st, parent_rw->get(), destination.name(), shown, destination);
  return up.report.files.at(0);
}

std::uint64_t Report::bytes() const {
  std::uint64_t total = 0;
  for (const auto& f : files) total += f.bytes;
  return total;
}

} // namespace sandpit::files
