#include "sandpit/jail/spec.hpp"

#include <algorithm>
#include <glob.h>
#include <nlohmann/json.hpp>

namespace sandpit::jail {

std::vector<std::string> expand_binds(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  for (const auto& pattern : patterns) {
    if (pattern.empty() || pattern[0] != '/') continue;
    glob_t g{};
    if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        std::string path = g.gl_pathv[i];
        if (std::find(out.begin(), out.end(), path) == out.end()) out.push_back(std::move(path));
      }
    }
    ::globfree(&g);
  }
  // Parents before children, so that /etc/ssl is mounted before anything under it.
  std::sort(out.begin(), out.end());
  return out;
}

JailSpec make_spec(const config::Config& config, const std::string& workspace_dir, const std::string& persist_dir) {
  JailSpec spec;
  spec.persist_dir = persist_dir;
  // packages.python_find_links: the wheel folders pip installs from, read-only at the same paths.
  auto binds = config.ro_binds;
  binds.insert(binds.end(), config.packages.python_find_links.begin(), config.packages.python_find_links.end());
  spec.ro_binds = expand_binds(binds);
  spec.workspace_dir = workspace_dir;
  spec.network = config.network_enabled;
  spec.limits = config.limits;
  return spec;
}

nlohmann::json to_init_json(const JailSpec& spec) {
  const auto& l = spec.limits;
  nlohmann::json rlimits = {
      {"nofile", l.open_files}, {"fsize", l.file_size}, {"core", 0}};
  if (spec.pids_by_rlimit) rlimits["nproc"] = l.pids;
  if (spec.memory_by_rlimit) rlimits["data"] = l.memory;
  return {{"op", "setup"},
          {"ro_binds", spec.ro_binds},
          {"network", spec.network},
          {"persist", !spec.persist_dir.empty()},
          {"hostname", spec.hostname},
          {"home", spec.home},
          {"user_name", spec.user_name},
          {"tmp_size", l.tmp},
          {"tmp_inodes", std::max<std::uint64_t>(1024, l.tmp / 16384)},
          {"rlimits", rlimits}};
}

} // namespace sandpit::jail
