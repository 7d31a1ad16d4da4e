// Quota images: the sparse ext4 files behind /workspace and /persist, made, grown and checked
// with e2fsprogs; shared by the loop-device mounts (root) and the fuse2fs mounts (everyone else).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sandpit::files::image {

// One area to mount: its image, the folder it is mounted over, its size (the quota).
struct Area {
  std::filesystem::path image;
  std::filesystem::path dir;
  std::uint64_t size = 0;
  std::filesystem::path lock_file; // serialises creating and attaching the image (root mode)
};

// Throws Error(sandbox_setup, what, why).
[[noreturn]] void fail(const std::string& what, const std::string& why);

// A tool's stderr: the user's, or /dev/null (resize2fs prints its banner there).
enum class Chatter { shown, hidden };
// Runs argv[0] (an absolute path) with stdout on /dev/null; its exit status, -1 if it could not run or was killed.
int run_tool(std::vector<std::string> argv, Chatter chatter = Chatter::shown);

// The first of `candidates` that is executable, or "".
std::string find_program(std::initializer_list<const char*> candidates);
// e2fsprogs' mke2fs, e2fsck and resize2fs live in /sbin on Debian.
inline constexpr const char* k_mke2fs = "/sbin/mke2fs";

// A new sparse image of `size` bytes holding what `dir` holds now, its root
// owned by owner:group; `dir` is emptied (it becomes the mount point).
void create(const Area& area, uid_t owner, gid_t group);

// A raised limit grows the image and its filesystem, offline (e2fsck, then
// resize2fs); call it only when nothing has the image open. A lowered limit
// cannot shrink a filesystem that holds files: the image keeps its size.
void grow_if_raised(const Area& area);
// Whether grow_if_raised would grow it.
bool grows(const Area& area);

// True when the superblock says the filesystem was not cleanly unmounted, has
// errors, or has a journal to replay: fuse2fs neither replays the journal nor
// repairs, so e2fsck -p must run first. Reads the superblock only.
bool needs_check(const std::filesystem::path& image);
// e2fsck -p (preen: replays the journal, fixes what is safe). Throws when it cannot.
void check(const std::filesystem::path& image);

// Removes the empty /lost+found that mke2fs and e2fsck make (root-owned, 0700: the
// sandbox user could not use it, and root mode rmdirs it once mounted), with debugfs.
void remove_lost_found(const std::filesystem::path& image);

// True when `dir` is a mount point as this thread sees it (its device differs from its parent's).
bool is_mountpoint(const std::filesystem::path& dir);

} // namespace sandpit::files::image
