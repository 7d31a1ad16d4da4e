// Resource limits set with setrlimit(2), which apply on every host, with or without cgroups.
#pragma once

#include "sandpit/util/result.hpp"

#include <nlohmann/json_fwd.hpp>
#include <sys/resource.h>
#include <vector>

namespace sandpit::jail {

struct Rlimit {
  int resource;
  rlim_t value; // soft and hard alike, so the code cannot raise it back
};

// {"nofile": 256, "fsize": ..., "core": 0, "nproc"?, "data"?} -> limits. Unknown names are ignored.
std::vector<Rlimit> rlimits_from_json(const nlohmann::json& spec);
Result<void> apply_rlimits(const std::vector<Rlimit>& limits);

} // namespace sandpit::jail
