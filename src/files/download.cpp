// Sandbox -> host. Every sandbox object is opened O_PATH beneath its root, checked, then reopened by fd.
#include "beneath.hpp"
#include "copy.hpp"
#include "new_file.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/files.hpp"
#include "sandpit/util/units.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::files {
namespace {

struct Downloader {
  const Transfer& options;
  Report report;
  std::uint64_t used = 0;

  // Creates `name` in host directory `dir` (never through a symlink); replaced only with Overwrite::yes. The name
  // appears once the file is written in full: a download cut off leaves no half-written file under it.
  void file(const Inspected& src, int dir, const std::string& name, const std::string& host, const SandboxPath& shown) {
    auto in = reopen_for_reading(src);
    if (!in) throw Error(ExitCode::code_failed, "download " + shown.shown(), in.failure().message());
    const auto replace = options.overwrite == Overwrite::yes ? Replace::yes : Replace::no;
    struct stat existing {};
    if (replace == Replace::no && ::fstatat(dir, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
      throw Error(ExitCode::usage, "download " + host, "exists (use --force to replace it)");
    }
    auto created = NewFile::create(dir, "." + name + ".sandpit-", 0644);
    if (!created) throw Error(ExitCode::code_failed, "download " + host, created.failure().message());
    auto copied = copy_hashed(in->get(), created->fd(), options.max_bytes - used);
    if (!copied) {
      throw Error(ExitCode::code_failed, "download " + shown.shown(),
                  copied.failure().err == EFBIG
                      ? over_cap_text(options)
                      : copied.failure().message());
    }
    if (auto published = created->publish(name, replace); !published) {
      const int err = published.failure().err;
      if (err == EEXIST && replace == Replace::no) throw Error(ExitCode::usage, "download " + host, "exists (use --force to replace it)");
      throw Error(ExitCode::code_failed, "download " + host, err == EISDIR ? "is a directory" : published.failure().message());
    }
    used += copied->bytes;
    report.files.push_back({host, shown.shown(), copied->bytes, copied->sha256});
  }

  void tree(const Inspected& src, int dir, const std::string& host, const SandboxPath& shown) {
    auto listing = reopen_for_reading(src);
    if (!listing) throw Error(ExitCode::code_failed, "download " + shown.shown(), listing.failure().message());
    DIR* d = ::fdopendir(::dup(listing->get()));
    if (d == nullptr) throw Error(ExitCode::code_failed, "download " + shown.shown(), errno_failure("read directory").message());
    std::unique_ptr<DIR, int (*)(DIR*)> closer(d, ::closedir);
    while (auto* entry = ::readdir(d)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      const auto child_shown = shown.child(name);
      auto child = inspect_beneath(listing->get(), name);
      if (!child) {
        report.skipped.push_back({child_shown.shown(), child.failure().err == ELOOP ? "a symbolic link" : child.failure().message()});
        continue;
      }
      const std::string host_child = host + "/" + name;
      if (S_ISREG(child->st.st_mode)) {
        file(*child, dir, name, host_child, child_shown);
      } else if (S_ISDIR(child->st.st_mode)) {
        tree(*child, host_dir(dir, name, host_child), host_child, child_shown);
      } else {
        report.skipped.push_back({child_shown.shown(), fmt::format("{}: refused, not opened", kind_of(child->st.st_mode))});
      }
    }
  }

  // A host directory to download into: created, or (with Overwrite::yes) an existing one reused.
  int host_dir(int parent, const std::string& name, const std::string& host) {
    if (::mkdirat(parent, name.c_str(), 0755) != 0 && !(errno == EEXIST && options.overwrite == Overwrite::yes)) {
      throw Error(errno == EEXIST ? ExitCode::usage : ExitCode::code_failed, "download " + host,
                  errno == EEXIST ? "exists (use --force to merge into it)" : errno_failure("mkdir").message());
    }
    int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) throw Error(ExitCode::code_failed, "download " + host, errno_failure("open").message());
    m_dirs.emplace_back(fd);
    return fd;
  }

  std::vector<sys::Fd> m_dirs;
};

Inspected inspect_source(const Roots& roots, const SandboxPath& source) {
  auto src = inspect_beneath(roots.of(source.area), source.relative);
  if (!src) {
    const int err = src.failure().err;
    throw Error(ExitCode::usage, source.shown(),
                err == ENOENT ? "no such file or directory in the sandbox"
                : err == ELOOP || err == EXDEV ? "goes through a symbolic link: refused (it could point outside the sandbox)"
                                               : src.failure().message());
  }
  if (S_ISLNK(src->st.st_mode)) throw Error(ExitCode::usage, source.shown(), "is a symbolic link: refused (it could point outside the sandbox)");
  if (!S_ISREG(src->st.st_mode) && !S_ISDIR(src->st.st_mode)) {
    throw Error(ExitCode::usage, source.shown(), fmt::format("is {}: refused, not opened", kind_of(src->st.st_mode)));
  }
  return std::move(src).value();
}

} // namespace

Opened open_for_download(const Roots& roots, const SandboxPath& source) {
  auto src = inspect_beneath(roots.of(source.area), source.relative);
  if (!src) {
    const int err = src.failure().err;
    throw FileError(problem_of(err), ExitCode::usage, source.shown(),
                    err == ENOENT ? "no such file or directory in the sandbox"
                    : err == ELOOP || err == EXDEV ? "goes through a symbolic link: refused (it could point outside the sandbox)"
                                                   : src.failure().message());
  }
  if (S_ISDIR(src->st.st_mode)) throw FileError(Problem::is_a_directory, ExitCode::usage, source.shown(), "is a directory");
  if (!S_ISREG(src->st.st_mode)) {
    throw FileError(Problem::refused, ExitCode::usage, source.shown(), fmt::format("is {}: refused, not opened", kind_of(src->st.st_mode)));
  }
  auto fd = reopen_for_reading(*src);
  if (!fd) throw FileError(problem_of(fd.failure().err), ExitCode::code_failed, source.shown(), fd.failure().message());
  return {std::move(fd).value(), static_cast<std::uint64_t>(src->st.st_size)};
}

Report download(const Roots& roots, const SandboxPath& source, const std::filesystem::path& host, const Transfer& options) {
  auto src = inspect_source(roots, source);
  const bool is_dir = S_ISDIR(src.st.st_mode);
  if (is_dir && options.recursive == Recursive::no) throw Error(ExitCode::usage, source.shown(), "is a directory (use -r to copy a tree)");
  std::string name = source.relative.empty() ? (source.area == Area::workspace ? "workspace" : "persist") : source.name();
  std::filesystem::path target = host.empty() ? std::filesystem::path(name) : host;
  std::error_code ec;
  if (!host.empty() && std::filesystem::is_directory(target, ec) && !std::filesystem::is_symlink(target, ec)) target /= name;
  auto parent = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
  int parent_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent_fd < 0) throw Error(ExitCode::usage, "download " + target.string(), errno_failure("open " + parent.string()).message());
  sys::Fd parent_dir(parent_fd);
  Downloader down{options, {}, 0, {}};
  const std::string leaf = target.filename().string();
  if (is_dir) down.tree(src, down.host_dir(parent_fd, leaf, target.string()), target.string(), source);
  else down.file(src, parent_fd, leaf, target.string(), source);
  return std::move(down.report);
}

} // namespace sandpit::files
