#include "beneath.hpp"
#include "quota_backends.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/files.hpp"
#include "sandpit/jail/spec.hpp"

#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace sandpit::files {
namespace {

sys::Fd open_root(const std::filesystem::path& dir) {
  if (::geteuid() == 0 && ::chown(dir.c_str(), jail::k_root_mode_host_id, jail::k_root_mode_host_id) != 0) {
    throw Error(ExitCode::sandbox_setup, "chown " + dir.string(), std::strerror(errno));
  }
  // Where this thread sees the area's quota image mounted (through the mount keeper when it could not join it).
  int fd = ::open(area_view(dir).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw Error(ExitCode::sandbox_setup, "open " + dir.string(), std::strerror(errno));
  return sys::Fd(fd);
}

} // namespace

Roots open_roots(const Workspace& workspace) {
  workspace.ensure_created();
  ensure_persist_dir();
  return Roots{open_root(workspace.files_dir), open_root(persist_dir()), sys::Fd()};
}

Roots open_volume_root() {
  ensure_persist_dir();
  return Roots{sys::Fd(), open_root(persist_dir()), sys::Fd()};
}

} // namespace sandpit::files
