// The sandbox's filesystem: a plan of mount steps (pure, unit-tested) and the executor that runs it in the jail init.
#pragma once

#include "sandpit/util/result.hpp"

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sandpit::jail {

// A host path to bind, as the init saw it before touching any mount.
struct HostEntry {
  enum class Type { missing, directory, file, symlink };
  std::string path;
  Type type = Type::missing;
  std::string link_target; // for symlinks: recreated as-is inside
};

struct RootSetup {
  std::vector<HostEntry> ro_binds;
  std::string workspace_source; // "/proc/self/fd/N": the workspace dir opened on the host
  std::string persist_source;   // the same for /persist; empty: no /persist
  std::uint64_t tmp_size = 0;
  std::uint64_t tmp_inodes = 0;
  std::string hostname = "sandpit";
  std::string home;                   // the workspace bound here too, as the user's home ("" for none)
  std::string user_name = "sandbox";
};

enum class StepKind { make_private, tmpfs, mkdir, touch, symlink, bind, remount, proc, write_file, write_optional, pivot_root };

struct MountStep {
  StepKind kind;
  std::string target;       // absolute path as seen by the init before pivot_root
  std::string source;       // bind source, symlink target, or file content
  unsigned long flags = 0;  // MS_* flags (bind, remount, tmpfs, proc)
  std::string data;         // tmpfs options
  bool recursive = false;   // bind/remount the whole subtree
  bool optional = false;    // a missing source or target is skipped, not fatal
  bool within = false;      // the bind's source is in the new root (not a host path that happens to share its prefix)

  // "mount tmpfs on /tmp", "bind /usr read-only", ...: the step name in error messages.
  std::string describe(const std::string& new_root) const;
};

// Every step, in order, to build the root under `new_root` and pivot into it.
std::vector<MountStep> plan_root(const RootSetup& setup, const std::string& new_root);

// Looks up each path with lstat/readlink (before any mount changes the view).
std::vector<HostEntry> inspect_host_paths(const std::vector<std::string>& paths);

// Runs the plan. Bind sources are opened (O_PATH|O_NOFOLLOW) before the first
// mount so that later mounts cannot redirect them.
Result<void> run_plan(const std::vector<MountStep>& steps, const std::string& new_root);

} // namespace sandpit::jail
