// File operations beyond copying, for front ends that manage a sandbox's files (E2B's filesystem API): stat, list, mkdir, move, remove, watch.
//
// The same rules as every copy: reached beneath a root fd with openat2, no
// symlink followed, no mount crossed. A symlink is reported as one (with its
// text), never resolved: it could point anywhere.
#pragma once

#include "sandpit/files/files.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace sandpit::files {

struct Entry {
  std::string name;      // the last component
  std::string relative;  // from the listed directory ("a/b.txt"); "" for a stat
  struct stat st {};     // lstat: a symlink is S_IFLNK
  std::string link;      // a symlink's text
};

// Every call throws FileError: not_found, not_a_directory, refused (a
// symlink on the way), denied, no_space, ... as Problem says.
Entry stat_entry(const Roots& roots, const SandboxPath& path);
// The entries under directory `path`, depth 1 = its children; pre-order, by
// name. Symlinked directories are listed, not entered. The directory itself is not included.
std::vector<Entry> list_dir(const Roots& roots, const SandboxPath& path, unsigned depth);
// Creates `path` and its missing parents. false: it was a directory already.
bool make_dir(const Roots& roots, const SandboxPath& path);
// Renames `from` to `to` (parents of `to` created). Both in one area.
void move_entry(const Roots& roots, const SandboxPath& from, const SandboxPath& to);
// The directory at `path`, opened O_PATH beneath its root (to watch it).
sys::Fd open_dir(const Roots& roots, const SandboxPath& path);
// Removes `path` and everything under it; a missing path is no error.
void remove_entry(const Roots& roots, const SandboxPath& path);

// "user.e2b.<key>" extended attributes: metadata a front end keeps on a file.
std::map<std::string, std::string> read_metadata(const Roots& roots, const SandboxPath& path, const std::string& prefix);
void write_metadata(const Roots& roots, const SandboxPath& path, const std::string& prefix, const std::map<std::string, std::string>& metadata);

} // namespace sandpit::files
