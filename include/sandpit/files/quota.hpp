// Quotas for /workspace and /persist: size-limited ext4 images, loop-mounted over their folders.
//
// Each area's contents live in a sparse ext4 image (workspace.img in the
// workspace's state folder, persist.img in the state folder) whose size is the
// quota: a write past it fails with ENOSPC inside the sandbox, however fast the
// code writes, and the journal keeps what was written across a crash. The image
// is attached to a loop device (one per image, shared by every process that
// uses it, so the kernel keeps a single superblock) and mounted over the
// area's folder in a private mount namespace of the calling thread; jails
// cloned afterwards inherit the mount. Loop devices and ext4 mounts need real
// root: elsewhere the folders are used as they are, without a quota.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"

#include <string>

namespace sandpit::files {

struct QuotaStatus {
  bool enforced = false;
  std::string detail; // "ext4 images on loop devices" or why not
};

// Mounts the workspace's and the volume's images over files_dir and
// persist_dir() in a new private mount namespace of the calling thread,
// creating the images (and moving existing files into them) on first use.
// Call it once, before cloning a jail or touching the folders, from a thread
// that will do that work. Throws Error(sandbox_setup) when root but it fails.
QuotaStatus enter_quota_mounts(const config::Config& config, const Workspace& workspace);
// The same for /persist alone (volume commands, which have no workspace).
QuotaStatus enter_persist_mount(const config::Config& config);

// "/workspace is full (limits.workspace = 32MiB, 610KiB left) ..." for each area
// with less than 2% (at least 1MiB) left, as this thread's mounts see them; "" when none is.
std::string full_areas(const config::Config& config, const Workspace& workspace);

// Whether quotas can be enforced here, without changing anything (for doctor).
QuotaStatus quota_support();

} // namespace sandpit::files
