// The two ways quota images get mounted: loop devices as root (quota_loop.cpp), fuse2fs
// in a user namespace otherwise (quota_fuse.cpp, with the keeper in mount_keeper.cpp).
#pragma once

#include "image.hpp"

#include "sandpit/files/quota.hpp"

#include <filesystem>
#include <vector>

namespace sandpit::files {

// Root: the images on loop devices, mounted in a private mount namespace of the calling thread.
QuotaStatus loop_support();
void enter_loop_mounts(const std::vector<image::Area>& areas);
void move_loop_area(const image::Area& from, const image::Area& to);

// Not root: fuse2fs mounts in the user's mount keeper (one user+mount namespace per
// user); the calling process joins that namespace when it is single-threaded.
QuotaStatus fuse_support();
void enter_fuse_mounts(const std::vector<image::Area>& areas);
void move_fuse_area(const image::Area& from, const image::Area& to);

// Where this thread reaches the mounted area `dir`: `dir` itself when it is a mount
// point here, else through /proc/<keeper>/root when this process holds the keeper's
// lease on it (a multi-threaded process cannot join the keeper's namespace), else `dir`.
std::filesystem::path area_view(const std::filesystem::path& dir);

// The keeper's folder: its socket, start lock and log, and the fuse2fs logs.
std::filesystem::path keeper_dir();

} // namespace sandpit::files
