// User namespace id maps: who the sandbox's single user is on the host.
#pragma once

#include "sandpit/util/result.hpp"

#include <string>
#include <sys/types.h>

namespace sandpit::jail {

struct IdMaps {
  std::string uid_map;  // "1000 <host uid> 1"
  std::string gid_map;
  bool deny_setgroups;  // required when an unprivileged user writes gid_map
  bool root_mode;       // sandpit runs as host root: the sandbox maps to nobody
};

// Pure: the maps for a process with this effective uid/gid. As root the sandbox
// user is the host's nobody (never host root); otherwise it is the caller.
IdMaps id_maps_for(uid_t euid, gid_t egid);

// Writes setgroups/uid_map/gid_map of the child `pid`.
Result<void> write_id_maps(pid_t pid, const IdMaps& maps);

} // namespace sandpit::jail
