#include "sandpit/config/config.hpp"

#include "screen.hpp"
#include "values.hpp"

#include "sandpit/config/keys.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/strings.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <fmt/format.h>
#include <toml++/toml.h>

namespace sandpit::config {
namespace {

constexpr const char* k_system_config = "/etc/sandpit/config.toml";

std::vector<std::string> all_key_names() {
  std::vector<std::string> names;
  for (const auto& key : key_table()) names.emplace_back(key.name);
  return names;
}

void walk(Config& config, const toml::table& table, const std::string& prefix, const Origin& origin) {
  for (const auto& [name, node] : table) {
    std::string full = prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
    if (const KeyInfo* key = find_key(full)) {
      set_value(config, *key, node, origin);
      continue;
    }
    if (const auto* sub = node.as_table()) {
      walk(config, *sub, full, origin);
      continue;
    }
    std::string why = fmt::format("unknown key '{}'", full);
    if (auto guess = strings::closest(full, all_key_names()); !guess.empty()) why += fmt::format(" (did you mean '{}'?)", guess);
    fail_at(origin.file, name.source(), why);
  }
}

std::string defaults_document() {
  std::string doc;
  for (const auto& key : key_table()) doc += fmt::format("{} = {}\n", key.name, key.default_value);
  return doc;
}

toml::table parse(const std::string& text, const std::string& origin) {
  if (auto bad = screen_toml(text)) {
    throw Error(ExitCode::usage, fmt::format("{}:{}:{}", origin, bad->line, bad->column), bad->why);
  }
  try {
    // First the ASCII stand-in (see screen.hpp): toml++ 3.3.0 must not meet
    // non-ASCII text anywhere but inside a string or comment.
    if (auto stand_in = ascii_stand_in(text); !stand_in.empty()) {
      try {
        (void)toml::parse(stand_in, origin);
      } catch (const toml::parse_error& e) {
        std::string why(e.description());
        if (why.find("'!'") != std::string::npos) why = "a non-ASCII character outside a string or comment";
        fail_at(origin, e.source(), why);
      }
    }
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    fail_at(origin, e.source(), std::string(e.description()));
  }
}

} // namespace

std::filesystem::path Config::audit_file() const {
  if (!audit_path.empty()) return audit_path;
  return state_home() / "audit.jsonl";
}

namespace {

// Whether `path` exists. Anything but "no such file" (EACCES on /etc/sandpit, say) is an error:
// a system config that cannot be read must not count as absent.
bool present(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  throw Error(ExitCode::usage, "config " + path, std::strerror(errno));
}

} // namespace

std::string system_config_path() {
  if (present(k_system_config)) return k_system_config;
  if (const char* env = std::getenv("SANDPIT_SYSTEM_CONFIG"); env != nullptr && *env != '\0') return env;
  return k_system_config;
}

void apply_toml(Config& config, const std::string& text, const std::string& origin, Source::Kind kind) {
  auto table = parse(text, origin);
  walk(config, table, "", Origin{origin, kind});
}

void seal_system(Config& config) {
  config.system_limits = config.limits;
  config.system_mode = config.policy_mode;
  config.system_keep_background = config.keep_background;
  config.system_max_sessions = config.max_sessions;
  config.system_pool = config.pool;
  config.system_patterns = config.patterns.size();
}

units::Millis bounded_timeout(const Config& config, units::Millis wanted, const std::string& flag) {
  if (config.system_limits && wanted > config.system_limits->timeout) {
    throw Error(ExitCode::usage, flag,
                fmt::format("the system config allows at most {}", units::format_duration(config.system_limits->timeout)));
  }
  return wanted;
}

Config load(const LoadOptions& options) {
  Config config;
  apply_toml(config, defaults_document(), "(default)", Source::Kind::system);
  auto read = [&](const std::string& path, Source::Kind kind, bool required) {
    Source source{kind, path, false};
    if (present(path)) {
      auto text = check(sys::read_file(path), ExitCode::usage, "config " + path);
      apply_toml(config, text, path, kind);
      source.read = true;
    } else if (required) {
      throw Error(ExitCode::usage, "config " + path, "no such file");
    }
    config.sources.push_back(source);
    return source.read;
  };
  if (read(system_config_path(), Source::Kind::system, false)) seal_system(config);
  read((config_home() / "config.toml").string(), Source::Kind::user, false);
  std::string explicit_file = options.explicit_file;
  if (explicit_file.empty()) {
    if (const char* env = std::getenv("SANDPIT_CONFIG"); env != nullptr) explicit_file = env;
  }
  if (!explicit_file.empty()) read(explicit_file, Source::Kind::explicit_file, true);
  return config;
}

} // namespace sandpit::config
