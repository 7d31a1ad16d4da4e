// JailSpec: everything the jail needs to know, decided on the host before clone().
#pragma once

#include "sandpit/config/config.hpp"

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace sandpit::jail {

// The uid and gid sandboxed code runs as, inside the user namespace.
inline constexpr unsigned k_inside_id = 1000;
// The host uid/gid the sandbox maps to when sandpit runs as root (nobody/nogroup).
inline constexpr unsigned k_root_mode_host_id = 65534;

struct JailSpec {
  std::vector<std::string> ro_binds; // absolute host paths, globs expanded; bound at the same path
  std::string workspace_dir;         // host directory bound read-write at /workspace
  std::string persist_dir;           // host directory bound read-write at /persist (empty: none)
  bool network = false;              // true: share the host network namespace
  config::Limits limits;
  bool memory_by_rlimit = false;     // no memory cgroup: fall back to RLIMIT_DATA
  bool pids_by_rlimit = false;       // no pids cgroup: fall back to RLIMIT_NPROC
  std::string hostname = "sandpit";
  // A second place the workspace appears at, which is also the sandbox user's
  // home ("/home/user" for E2B's sandboxes); empty: home is /workspace.
  std::string home;
  std::string user_name = "sandbox"; // in /etc/passwd and /etc/group
};

// Expands globs in the configured bind list, keeps absolute existing paths, drops duplicates.
std::vector<std::string> expand_binds(const std::vector<std::string>& patterns);
JailSpec make_spec(const config::Config& config, const std::string& workspace_dir, const std::string& persist_dir = "");

// The part of the spec the jail init needs, as sent over its control socket.
nlohmann::json to_init_json(const JailSpec& spec);

} // namespace sandpit::jail
