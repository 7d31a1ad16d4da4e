#include "sandpit/config/config.hpp"

#include "screen.hpp"

#include "sandpit/config/keys.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/strings.hpp"

#include <cstdlib>
#include <sstream>
#include <fmt/format.h>
#include <toml++/toml.h>

namespace sandpit::config {
namespace {

[[noreturn]] void fail_at(const std::string& origin, const toml::source_region& where, const std::string& why) {
  std::string place = origin;
  if (where.begin.line != 0) place += fmt::format(":{}:{}", where.begin.line, where.begin.column);
  throw Error(ExitCode::usage, place, why);
}

std::string describe(const toml::node& node) {
  if (auto s = node.value<std::string>()) return fmt::format("\"{}\"", *s);
  std::ostringstream out;
  node.visit([&](auto&& v) { out << v; });
  return out.str();
}

[[noreturn]] void bad_value(const std::string& origin, const KeyInfo& key, const toml::node& node) {
  fail_at(origin, node.source(),
          fmt::format("{}: expected {}, got {}", key.name, type_name(key.type), describe(node)));
}

std::uint64_t as_size(const std::string& origin, const KeyInfo& key, const toml::node& node) {
  if (auto i = node.value_exact<std::int64_t>(); i && *i >= 0) return static_cast<std::uint64_t>(*i);
  if (auto s = node.value_exact<std::string>()) {
    if (auto bytes = units::parse_size(*s)) return *bytes;
  }
  bad_value(origin, key, node);
}

units::Millis as_duration(const std::string& origin, const KeyInfo& key, const toml::node& node) {
  if (auto i = node.value_exact<std::int64_t>(); i && *i >= 0) return units::Millis(*i * 1000);
  if (auto s = node.value_exact<std::string>()) {
    if (auto d = units::parse_duration(*s); d && d->count() > 0) return *d;
  }
  bad_value(origin, key, node);
}

std::vector<std::string> as_list(const std::string& origin, const KeyInfo& key, const toml::node& node) {
  const auto* array = node.as_array();
  if (array == nullptr) bad_value(origin, key, node);
  std::vector<std::string> out;
  for (const auto& item : *array) {
    auto s = item.value_exact<std::string>();
    if (!s) bad_value(origin, key, item);
    out.push_back(*s);
  }
  return out;
}

// Values below these leave the interpreters unable to start; say so at load time.
void check_minimum(const Config& config, const KeyInfo& key, const toml::node& node, const std::string& origin) {
  struct Minimum {
    std::string_view name;
    std::uint64_t value;
    std::uint64_t minimum;
    bool size;
  };
  const auto& l = config.limits;
  const Minimum minimums[] = {{"limits.memory", l.memory, 16ULL << 20, true},  {"limits.pids", l.pids, 8, false},
                              {"limits.open_files", l.open_files, 16, false},  {"limits.output", l.output, 1024, true},
                              {"limits.tmp", l.tmp, 1ULL << 20, true},         {"limits.file_size", l.file_size, 4096, true}};
  for (const auto& m : minimums) {
    if (m.name != key.name || m.value >= m.minimum) continue;
    auto shown = m.size ? units::format_size(m.minimum) : std::to_string(m.minimum);
    fail_at(origin, node.source(), fmt::format("{}: expected at least {}, got {}", key.name, shown, describe(node)));
  }
}

void set_value(Config& config, const KeyInfo& key, const toml::node& node, const std::string& origin) {
  auto& l = config.limits;
  const std::string_view name = key.name;
  auto whole = [&] {
    auto i = node.value_exact<std::int64_t>();
    if (!i || *i <= 0) bad_value(origin, key, node);
    return static_cast<std::uint64_t>(*i);
  };
  if (name == "limits.timeout") l.timeout = as_duration(origin, key, node);
  else if (name == "session.idle_timeout") config.idle_timeout = as_duration(origin, key, node);
  else if (name == "session.background") {
    auto v = node.value_exact<std::string>();
    if (!v || (*v != "keep" && *v != "kill")) {
      fail_at(origin, node.source(), fmt::format("{}: expected \"keep\" or \"kill\", got {}", name, describe(node)));
    }
    config.keep_background = *v == "keep";
  }
  else if (name == "limits.memory") l.memory = as_size(origin, key, node);
  else if (name == "limits.pids") l.pids = whole();
  else if (name == "limits.cpu") {
    auto v = node.value<double>();
    if (!v || *v < 0) bad_value(origin, key, node);
    l.cpu = *v;
  } else if (name == "limits.output") l.output = as_size(origin, key, node);
  else if (name == "limits.tmp") l.tmp = as_size(origin, key, node);
  else if (name == "limits.file_size") l.file_size = as_size(origin, key, node);
  else if (name == "limits.open_files") l.open_files = whole();
  else if (name == "network.enabled") {
    auto b = node.value_exact<bool>();
    if (!b) bad_value(origin, key, node);
    config.network_enabled = *b;
  } else if (name == "jail.ro_binds") config.ro_binds = as_list(origin, key, node);
  else if (strings::starts_with(name, "languages.")) {
    auto language = strings::split(name, '.')[1];
    auto argv = as_list(origin, key, node);
    if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
      fail_at(origin, node.source(), fmt::format("{}: expected a list starting with an absolute path", name));
    }
    config.language_commands[language] = std::move(argv);
  }
  check_minimum(config, key, node, origin);
  config.origins[std::string(name)] = origin;
}

std::vector<std::string> all_key_names() {
  std::vector<std::string> names;
  for (const auto& key : key_table()) names.emplace_back(key.name);
  return names;
}

void walk(Config& config, const toml::table& table, const std::string& prefix, const std::string& origin) {
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
    fail_at(origin, name.source(), why);
  }
}

std::string defaults_document() {
  std::string doc;
  for (const auto& key : key_table()) doc += fmt::format("{} = {}\n", key.name, key.default_value);
  return doc;
}

} // namespace

void apply_toml(Config& config, const std::string& text, const std::string& origin) {
  if (auto bad = screen_toml(text)) {
    throw Error(ExitCode::usage, fmt::format("{}:{}:{}", origin, bad->line, bad->column), bad->why);
  }
  toml::table table;
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
    table = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    fail_at(origin, e.source(), std::string(e.description()));
  }
  walk(config, table, "", origin);
}

Config load(const LoadOptions& options) {
  Config config;
  apply_toml(config, defaults_document(), "(default)");
  auto read = [&](const fs::path& path, bool required) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      if (required) throw Error(ExitCode::usage, "config " + path.string(), "no such file");
      return;
    }
    auto text = check(sys::read_file(path.string()), ExitCode::usage, "config " + path.string());
    apply_toml(config, text, path.string());
    config.files_read.push_back(path.string());
  };
  read(config_home() / "config.toml", false);
  std::string explicit_file = options.explicit_file;
  if (explicit_file.empty()) {
    if (const char* env = std::getenv("SANDPIT_CONFIG"); env != nullptr) explicit_file = env;
  }
  if (!explicit_file.empty()) read(explicit_file, true);
  return config;
}

} // namespace sandpit::config
