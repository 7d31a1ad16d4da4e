// Quotas for /workspace and /persist: size-limited ext4 images mounted over their folders.
//
// Each area's contents live in a sparse ext4 image (workspace.img in the
// workspace's state folder, persist.img in the state folder) whose size is the
// quota: a write past it fails with ENOSPC inside the sandbox, however fast the
// code writes. As root, the image is attached to a loop device (one per image,
// shared by every process that uses it, so the kernel keeps a single
// superblock) and mounted over the area's folder in a private mount namespace
// of the calling thread; jails cloned afterwards inherit the mount. Anyone else
// gets the same images served by fuse2fs, one per image, in the user's mount
// keeper (`sandpit __mount-keeper`, one per user): the calling process joins
// the keeper's user and mount namespaces, and holds a lease (a connection) on
// each mount until it exits. Without loop devices or FUSE, the folders are used
// as they are, without a quota.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace sandpit::files {

struct QuotaStatus {
  bool enforced = false;
  std::string detail; // "ext4 images on loop devices" or why not
};

// Mounts the workspace's and the volume's images over files_dir and
// persist_dir() in a private mount namespace of the calling thread (root) or
// the keeper's (others), creating the images (and moving existing files into
// them) on first use. Call it before cloning a jail or touching the folders,
// from a thread that will do that work; a jail must be cloned by a process
// that was single-threaded when it called this (only such a process can join
// the keeper's user namespace; others reach the folders through open_roots()).
// Throws Error(sandbox_setup) when quotas are supported here but it fails.
QuotaStatus enter_quota_mounts(const config::Config& config, const Workspace& workspace);
// The same for /persist alone (volume commands, which have no workspace).
QuotaStatus enter_persist_mount(const config::Config& config);

// A pool sandbox's workspace becomes `to`'s (a new workspace: no image, no files yet): the image, its lock
// and loop hint are renamed into `to`'s state folder and the mount moves to `to.files_dir` (in this
// thread's namespace as root, in the mount keeper's otherwise; without quotas the folder itself moves).
// The jail that has the area mounted keeps it. Throws Error(sandbox_setup).
void move_workspace_area(const Workspace& from, const Workspace& to);

// Mounts `from` (a folder of this thread's mount namespace: a workspace's mounted image) over each of
// `targets` (paths inside the jail) in the running jail whose init is `init_pid`. A pool sandbox lent to a
// --fresh run gets the workspace's files this way. Throws Error(sandbox_setup).
void attach_area(pid_t init_pid, const std::filesystem::path& from, const std::vector<std::string>& targets);

// "/workspace is full (limits.workspace = 32MiB, 610KiB left) ..." for each area
// with less than 2% (at least 1MiB) left, as this thread's mounts see them; "" when none is.
std::string full_areas(const config::Config& config, const Workspace& workspace);

// The mount namespace this process had before enter_quota_mounts() gave it one of its own (root), or -1:
// a background process it starts goes back there, so that it does not keep this one's mounts alive.
int host_mount_namespace();

// Whether quotas can be enforced here, without changing anything (for doctor).
QuotaStatus quota_support();

// `sandpit __mount-keeper <ready-fd>`: the keeper process (mount_keeper.cpp).
inline constexpr const char* k_keeper_arg = "__mount-keeper";
int mount_keeper_main(int argc, char** argv);

} // namespace sandpit::files
