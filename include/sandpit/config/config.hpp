// Config: the effective settings, loaded from defaults, TOML files and flags, each value with its origin.
#pragma once

#include "sandpit/util/units.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sandpit::config {

struct Limits {
  units::Millis timeout{30'000};
  std::uint64_t memory = 512ULL << 20;
  std::uint64_t pids = 256;
  double cpu = 1.0; // 0: no limit
  std::uint64_t output = 8ULL << 20;
  std::uint64_t tmp = 256ULL << 20;
  std::uint64_t file_size = 256ULL << 20;
  std::uint64_t open_files = 256;
  std::uint64_t transfer = 1ULL << 30;
  std::uint64_t workspace = 1ULL << 30;
  std::uint64_t persist = 100ULL << 20;
};

enum class PolicyMode { off, warn, block }; // in order of strictness
enum class ExecAccess { everyone, admins };

// One entry of the dangerous-pattern list.
struct Pattern {
  std::vector<std::string> languages; // empty: every language
  std::string regex;                  // PCRE2, checked at load time
  std::string reason;
  std::string origin;                 // "file:line:col" of the entry
  std::string file;                   // the file alone, or "(default)"
};

// A config file sandpit looks at, in the order it reads them.
struct Source {
  enum class Kind { system, user, explicit_file };
  Kind kind;
  std::string path;
  bool read = false;
};

struct Config {
  Limits limits;
  units::Millis idle_timeout{15 * 60'000};
  bool keep_background = true; // session.background = "keep" | "kill"
  std::uint64_t max_sessions = 16;
  std::uint64_t pool = 2;                                  // session.pool
  std::vector<std::string> pool_languages{"python"};       // session.pool_languages
  std::vector<std::string> python_preload{"numpy", "pandas", "matplotlib.pyplot"}; // languages.python.preload
  bool network_enabled = false;
  std::vector<std::string> network_allow; // hosts code may reach through the egress proxy
  struct Packages {
    std::vector<std::string> allow{"*"};
    std::vector<std::string> deny;
    std::string python_index;                   // "": https://pypi.org/simple
    std::vector<std::string> python_find_links; // host folders of wheels
    std::string npm_registry;                   // "": https://registry.npmjs.org/
    bool allow_builds = false;
  } packages;
  std::vector<std::string> ro_binds;
  std::map<std::string, std::vector<std::string>> language_commands; // "python" -> argv prefix
  std::string identity_user;                                         // empty: the OS login name
  std::vector<std::string> admins;
  ExecAccess exec_access = ExecAccess::everyone;
  bool audit_all = false;
  PolicyMode policy_mode = PolicyMode::warn;
  std::vector<Pattern> patterns;
  std::string audit_path; // empty: state_home()/audit.jsonl
  bool audit_fsync = false;
  units::Millis mcp_max_timeout{600'000};
  std::uint64_t mcp_max_output = 20'000; // characters per stream
  std::map<std::string, std::string> serve_api_keys; // key -> identity
  std::uint64_t serve_max_sandboxes = 32;
  units::Millis serve_max_timeout{24 * 3600'000};
  std::uint64_t serve_max_connections = 256;

  std::map<std::string, std::string> origins; // key -> "(default)", a file path, or "--flag"
  std::map<std::string, std::string> shown;   // key -> its effective value as TOML text
  std::vector<Source> sources;
  // The system config's limits and policy mode, once it has been read: later
  // sources and flags may tighten them, never loosen them.
  std::optional<Limits> system_limits;
  std::optional<PolicyMode> system_mode;
  std::optional<bool> system_keep_background;
  std::optional<std::uint64_t> system_max_sessions;
  std::optional<std::uint64_t> system_pool;
  // The system config's network.allow and packages.allow, when it set them: later files may only keep a subset.
  std::optional<std::vector<std::string>> system_network_allow;
  std::optional<std::vector<std::string>> system_packages_allow;
  std::size_t system_patterns = 0; // the first N of `patterns` came from the system config

  // The audit log's path: audit.path, or the default under the state folder.
  std::filesystem::path audit_file() const;
};

struct LoadOptions {
  std::string explicit_file; // --config / SANDPIT_CONFIG; must exist when given
};

// The system config's path: /etc/sandpit/config.toml. $SANDPIT_SYSTEM_CONFIG
// names another file only while /etc/sandpit/config.toml does not exist, so it
// can never remove the rules of a system config that is there (it exists for
// tests and for installs that keep /etc read-only).
std::string system_config_path();

// Defaults, then the system, user and explicit configs. Throws Error(usage)
// naming file:line:col on any problem; nothing runs on a bad config.
Config load(const LoadOptions& options);
// Parses one TOML document into `config` (used by load and by tests).
void apply_toml(Config& config, const std::string& text, const std::string& origin, Source::Kind kind = Source::Kind::user);
// Remembers the current values as the system's ceiling (after the system config is applied).
void seal_system(Config& config);
// Applies a duration flag such as --timeout: refused above the system's ceiling.
units::Millis bounded_timeout(const Config& config, units::Millis wanted, const std::string& flag);

} // namespace sandpit::config

namespace sandpit::config {

// One effective value for `config show`.
struct Shown {
  std::string key;   // "limits.timeout", or "policy.patterns[3]"
  std::string toml;  // "\"30s\""
  std::string json;  // the same value as JSON text
  std::string origin;
};
std::vector<Shown> effective_values(const Config& config);

} // namespace sandpit::config
