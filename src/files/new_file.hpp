// NewFile: a file that appears under its name only once it is written in full, so a copy cut off at any point leaves the old file or the new one.
#pragma once

#include "sandpit/sys/fd.hpp"
#include "sandpit/util/result.hpp"

#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace sandpit::files {

enum class Replace { yes, no };

// Made with O_TMPFILE in its folder: it has no name until publish(), so a process
// killed while writing it leaves nothing behind. Where the filesystem has no
// O_TMPFILE (fuse2fs), it gets a hidden temporary name, `<prefix><random hex>`,
// removed on failure; a SIGKILL between its creation and publish() leaves that
// name (never a half-written file under the real one).
class NewFile {
public:
  // Creates it in folder `dir` (an fd) with `mode`. Fails with the errno of the create.
  static Result<NewFile> create(int dir, std::string prefix, mode_t mode);
  NewFile(NewFile&& other) noexcept
      : m_dir(other.m_dir), m_fd(std::move(other.m_fd)), m_temp(std::exchange(other.m_temp, {})), m_prefix(std::move(other.m_prefix)) {}
  NewFile& operator=(NewFile&&) = delete;
  NewFile(const NewFile&) = delete;
  NewFile& operator=(const NewFile&) = delete;
  // Unpublished: its temporary name, if it has one, is removed.
  ~NewFile();

  int fd() const { return m_fd.get(); }

  // Gives it `name` in its folder, replacing whatever file is there (Replace::yes)
  // or failing with EEXIST when something is (Replace::no). Either way atomically.
  Result<void> publish(const std::string& name, Replace replace);

private:
  NewFile(int dir, sys::Fd fd, std::string temp, std::string prefix)
      : m_dir(dir), m_fd(std::move(fd)), m_temp(std::move(temp)), m_prefix(std::move(prefix)) {}

  int m_dir;
  sys::Fd m_fd;
  std::string m_temp; // "" for an O_TMPFILE (or once published)
  std::string m_prefix;
};

} // namespace sandpit::files
