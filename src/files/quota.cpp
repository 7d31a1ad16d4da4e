// The quota mounts' front door: which mechanism serves this user, the areas of a call, and full areas.
#include "quota_backends.hpp"

#include "sandpit/util/units.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace sandpit::files {
namespace {

image::Area workspace_area(const Workspace& workspace, std::uint64_t size) {
  return {workspace.state_dir / "workspace.img", workspace.files_dir, size, workspace.state_dir / "image.lock"};
}

image::Area persist_area(const config::Config& config) {
  return {state_home() / "persist.img", persist_dir(), config.limits.persist, state_home() / "persist.lock"};
}

QuotaStatus enter(const config::Config& config, const Workspace* workspace) {
  auto status = quota_support();
  if (!status.enforced) return status;
  if (workspace) workspace->ensure_created();
  ensure_persist_dir();
  std::vector<image::Area> areas;
  if (workspace) {
    areas.push_back(workspace_area(*workspace, config.limits.workspace));
  }
  areas.push_back(persist_area(config)); // last: the loop backend's mark that this thread has its namespace
  if (::geteuid() == 0) enter_loop_mounts(areas);
  else enter_fuse_mounts(areas);
  return status;
}

} // namespace

std::string full_areas(const config::Config& config, const Workspace& workspace) {
  std::string out;
  auto check = [&](const std::filesystem::path& dir, const char* area, const char* key, std::uint64_t limit) {
    struct statvfs st {};
    // ext4 keeps some blocks in reserve for its own metadata: a writer gets ENOSPC with ~2% left.
    if (::statvfs(area_view(dir).c_str(), &st) != 0) return;
    const std::uint64_t left = st.f_bavail * st.f_frsize;
    if (left >= std::max<std::uint64_t>(1U << 20, st.f_blocks * st.f_frsize / 50)) return;
    if (!out.empty()) out += "; ";
    out += fmt::format("{} is full ({} = {}, {} left): writes there fail with ENOSPC until files are removed", area, key,
                       units::format_size(limit), units::format_size(left));
  };
  if (!quota_support().enforced) return out;
  check(workspace.files_dir, "/workspace", "limits.workspace", config.limits.workspace);
  check(persist_dir(), "/persist", "limits.persist", config.limits.persist);
  return out;
}

void move_workspace_area(const Workspace& from, const Workspace& to) {
  to.ensure_created();
  const auto source = workspace_area(from, 0), target = workspace_area(to, 0);
  std::error_code ec;
  if (std::filesystem::exists(target.image, ec)) image::fail("take a pool sandbox for " + to.host_dir.string(), "the workspace has an image already");
  if (!quota_support().enforced || !std::filesystem::exists(source.image, ec)) {
    // No image: the folder itself is what the jail has at /workspace; a rename keeps it.
    if (::rename(source.dir.c_str(), target.dir.c_str()) != 0) image::fail("move " + source.dir.string(), std::strerror(errno));
    return;
  }
  if (::geteuid() == 0) move_loop_area(source, target);
  else move_fuse_area(source, target);
}

QuotaStatus quota_support() { return ::geteuid() == 0 ? loop_support() : fuse_support(); }

QuotaStatus enter_quota_mounts(const config::Config& config, const Workspace& workspace) { return enter(config, &workspace); }
QuotaStatus enter_persist_mount(const config::Config& config) { return enter(config, nullptr); }

} // namespace sandpit::files
