// Config: the effective settings, loaded from defaults, TOML files and flags, each value with its origin.
#pragma once

#include "sandpit/util/units.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sandpit::config {

struct Limits {
  units::Millis timeout{30'000};
  std::uint64_t memory = 512ULL << 20;
  std::uint64_t pids = 256;
  double cpu = 1.0;
  std::uint64_t output = 8ULL << 20;
  std::uint64_t tmp = 256ULL << 20;
  std::uint64_t file_size = 256ULL << 20;
  std::uint64_t open_files = 256;
};

struct Config {
  Limits limits;
  units::Millis idle_timeout{15 * 60'000};
  bool keep_background = true; // session.background = "keep" | "kill"
  bool network_enabled = false;
  std::vector<std::string> ro_binds;
  std::map<std::string, std::vector<std::string>> language_commands; // "python" -> argv prefix
  std::map<std::string, std::string> origins;                        // key -> "(default)" or a file path
  std::vector<std::string> files_read;
};

struct LoadOptions {
  std::string explicit_file; // --config / SANDPIT_CONFIG; must exist when given
};

// Defaults, then the user config, then the explicit file. Throws Error(usage)
// naming file:line:col on any problem; nothing runs on a bad config.
Config load(const LoadOptions& options);
// Parses one TOML document into `config` (used by load and by tests).
void apply_toml(Config& config, const std::string& text, const std::string& origin);

} // namespace sandpit::config
