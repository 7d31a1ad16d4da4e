// Profile: what a workspace's sandbox looks like when a front end asks for more than the default (sandpit serve's E2B sandboxes).
#pragma once

#include "sandpit/core/paths.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sandpit::session {

// Saved in the workspace's state folder, so that a daemon started later (after
// an idle exit) builds the same sandbox. Absent: the default sandbox.
struct Profile {
  std::map<std::string, std::string> env; // added to every sandboxed process's environment
  std::string home;                        // the workspace appears here too; HOME and the default cwd ("": /workspace)
  std::string user_name;                   // the sandbox user's name ("": "sandbox")

  std::string home_dir() const { return home.empty() ? "/workspace" : home; }
  std::string user() const { return user_name.empty() ? "sandbox" : user_name; }
  bool operator==(const Profile&) const = default;
};

// Throws Error(usage) for a variable name that is not [A-Za-z_][A-Za-z0-9_]* or a value with a NUL byte.
void check_env(const std::map<std::string, std::string>& env);

// Reads <state>/profile.json; the default profile when there is none. Throws Error on a malformed file.
Profile load_profile(const Workspace& workspace);
// Writes it (0600, replaced atomically). Throws Error.
void save_profile(const Workspace& workspace, const Profile& profile);

// The fixed environment every sandboxed process starts with, then the profile's
// variables; nothing of the host's enters.
std::vector<std::string> sandbox_environment(const Profile& profile = {});
// The port of the egress proxy on the jail's loopback (network.allow).
inline constexpr std::uint16_t k_code_proxy_port = 3128;
// What points clients at it: HTTP_PROXY, HTTPS_PROXY (and lowercase), npm's, and NO_PROXY for the jail's own
// loopback (unless `allow` names a loopback address: then that goes through the proxy too).
std::map<std::string, std::string> proxy_environment(const std::vector<std::string>& allow);

// `base` with `extra` set on top (a later NAME= replaces an earlier one).
std::vector<std::string> with_env(std::vector<std::string> base, const std::map<std::string, std::string>& extra);

} // namespace sandpit::session
