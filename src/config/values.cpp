#include "values.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/util/strings.hpp"

#include <fmt/format.h>
#include <sstream>

namespace sandpit::config {

void fail_at(const std::string& file, const toml::source_region& where, const std::string& why) {
  std::string place = file;
  if (where.begin.line != 0) place += fmt::format(":{}:{}", where.begin.line, where.begin.column);
  throw Error(ExitCode::usage, place, why);
}

std::string describe(const toml::node& node) {
  if (auto s = node.value_exact<std::string>()) return fmt::format("\"{}\"", *s);
  std::ostringstream out;
  node.visit([&](auto&& v) { out << v; });
  return out.str();
}

namespace {

struct Setter {
  Config& config;
  const KeyInfo& key;
  const toml::node& node;
  const Origin& origin;

  [[noreturn]] void bad() const {
    fail_at(origin.file, node.source(), fmt::format("{}: expected {}, got {}", key.name, type_name(key), describe(node)));
  }
  [[noreturn]] void refuse(const std::string& why) const {
    fail_at(origin.file, node.source(), fmt::format("{}: {}", key.name, why));
  }

  std::uint64_t size() const {
    if (auto i = node.value_exact<std::int64_t>(); i && *i >= 0) return static_cast<std::uint64_t>(*i);
    if (auto s = node.value_exact<std::string>()) {
      if (auto bytes = units::parse_size(*s)) return *bytes;
    }
    bad();
  }
  units::Millis duration() const {
    if (auto i = node.value_exact<std::int64_t>(); i && *i > 0) return units::Millis(*i * 1000);
    if (auto s = node.value_exact<std::string>()) {
      if (auto d = units::parse_duration(*s); d && d->count() > 0) return *d;
    }
    bad();
  }
  std::uint64_t whole() const {
    auto i = node.value_exact<std::int64_t>();
    if (!i || *i <= 0) bad();
    return static_cast<std::uint64_t>(*i);
  }
  // 0 or more.
  std::uint64_t count() const {
    auto i = node.value_exact<std::int64_t>();
    if (!i || *i < 0) bad();
    return static_cast<std::uint64_t>(*i);
  }
  bool boolean() const {
    auto b = node.value_exact<bool>();
    if (!b) bad();
    return *b;
  }
  std::string string() const {
    auto s = node.value_exact<std::string>();
    if (!s) bad();
    return *s;
  }
  // The index of the value in key.choices ("off|warn|block" -> 0..2).
  std::size_t choice() const {
    auto s = node.value_exact<std::string>();
    auto options = strings::split(key.choices, '|');
    for (std::size_t i = 0; s && i < options.size(); ++i) {
      if (options[i] == *s) return i;
    }
    bad();
  }
  std::map<std::string, std::string> map() const {
    const auto* table = node.as_table();
    if (table == nullptr) bad();
    std::map<std::string, std::string> out;
    for (const auto& [name, item] : *table) {
      auto s = item.value_exact<std::string>();
      if (!s) fail_at(origin.file, item.source(), fmt::format("{}.{}: expected a string, got {}", key.name, name.str(), describe(item)));
      out[std::string(name.str())] = *s;
    }
    return out;
  }
  std::vector<std::string> list() const {
    const auto* array = node.as_array();
    if (array == nullptr) bad();
    std::vector<std::string> out;
    for (const auto& item : *array) {
      auto s = item.value_exact<std::string>();
      if (!s) fail_at(origin.file, item.source(), fmt::format("{}: expected {}, got {}", key.name, type_name(key), describe(item)));
      out.push_back(*s);
    }
    return out;
  }

  void at_least(std::uint64_t value, std::uint64_t minimum, bool is_size) const {
    if (value >= minimum) return;
    refuse(fmt::format("expected at least {}, got {}", is_size ? units::format_size(minimum) : std::to_string(minimum), describe(node)));
  }
  // Refuses a value looser than the system config's.
  template <typename T> void at_most(T value, T ceiling, const std::string& shown) const {
    if (origin.restricted(config) && value > ceiling) {
      refuse(fmt::format("the system config allows at most {}, got {}", shown, describe(node)));
    }
  }
};

void set_limit(const Setter& s) {
  auto& l = s.config.limits;
  const auto* sys = s.config.system_limits ? &*s.config.system_limits : nullptr;
  const std::string_view name = s.key.name;
  auto size_limit = [&](std::uint64_t& field, std::uint64_t Limits::* member, std::uint64_t minimum) {
    field = s.size();
    s.at_least(field, minimum, true);
    if (sys) s.at_most(field, sys->*member, units::format_size(sys->*member));
  };
  auto count_limit = [&](std::uint64_t& field, std::uint64_t Limits::* member, std::uint64_t minimum) {
    field = s.whole();
    s.at_least(field, minimum, false);
    if (sys) s.at_most(field, sys->*member, std::to_string(sys->*member));
  };
  if (name == "limits.timeout") {
    l.timeout = s.duration();
    if (sys) s.at_most(l.timeout.count(), sys->timeout.count(), units::format_duration(sys->timeout));
  } else if (name == "limits.cpu") {
    auto v = s.node.value<double>();
    if (!v || *v < 0) s.bad();
    l.cpu = *v;
    // 0 means no limit: the loosest value of all.
    if (sys && sys->cpu > 0) s.at_most(l.cpu == 0 ? 1e18 : l.cpu, sys->cpu, fmt::format("{}", sys->cpu));
  } else if (name == "limits.memory") size_limit(l.memory, &Limits::memory, 16ULL << 20);
  else if (name == "limits.output") size_limit(l.output, &Limits::output, 1024);
  else if (name == "limits.tmp") size_limit(l.tmp, &Limits::tmp, 1ULL << 20);
  else if (name == "limits.file_size") size_limit(l.file_size, &Limits::file_size, 4096);
  else if (name == "limits.transfer") size_limit(l.transfer, &Limits::transfer, 1);
  else if (name == "limits.workspace") size_limit(l.workspace, &Limits::workspace, 16ULL << 20);
  else if (name == "limits.persist") size_limit(l.persist, &Limits::persist, 16ULL << 20);
  else if (name == "limits.pids") count_limit(l.pids, &Limits::pids, 8);
  else if (name == "limits.open_files") count_limit(l.open_files, &Limits::open_files, 16);
}

void set_session(const Setter& s) {
  auto& c = s.config;
  if (s.key.name == "session.idle_timeout") c.idle_timeout = s.duration();
  else if (s.key.name == "session.background") {
    c.keep_background = s.choice() == 0;
    if (c.keep_background && c.system_keep_background == false && s.origin.restricted(c)) {
      s.refuse(fmt::format("the system config requires \"kill\", got {}", describe(s.node)));
    }
  } else if (s.key.name == "session.max_sessions") {
    c.max_sessions = s.whole();
    if (c.system_max_sessions) s.at_most(c.max_sessions, *c.system_max_sessions, std::to_string(*c.system_max_sessions));
  } else if (s.key.name == "session.pool") {
    c.pool = s.count();
    if (c.system_pool) s.at_most(c.pool, *c.system_pool, std::to_string(*c.system_pool));
    if (c.pool > 64) s.refuse(fmt::format("at most 64, got {}", c.pool));
  } else if (s.key.name == "session.pool_languages") {
    c.pool_languages = s.list();
    for (const auto& language : c.pool_languages) {
      if (language != "python" && language != "javascript") s.refuse(fmt::format("\"{}\" is not python or javascript", language));
    }
  }
}

void set_access(const Setter& s) {
  auto& c = s.config;
  const std::string_view name = s.key.name;
  if (name == "identity.user") c.identity_user = s.string();
  else if (name == "identity.admins") c.admins = s.list();
  else if (name == "access.exec") c.exec_access = s.choice() == 0 ? ExecAccess::everyone : ExecAccess::admins;
  else if (name == "access.audit_all") c.audit_all = s.boolean();
  else if (name == "audit.path") c.audit_path = s.string();
  else if (name == "audit.fsync") c.audit_fsync = s.boolean();
  else if (name == "policy.mode") {
    c.policy_mode = static_cast<PolicyMode>(s.choice());
    if (c.system_mode && c.policy_mode < *c.system_mode && s.origin.restricted(c)) {
      auto options = strings::split(s.key.choices, '|');
      s.refuse(fmt::format("the system config requires at least \"{}\", got {}", options[static_cast<std::size_t>(*c.system_mode)],
                           describe(s.node)));
    }
  }
}

void set_other(const Setter& s) {
  auto& c = s.config;
  const std::string_view name = s.key.name;
  if (name == "network.enabled") c.network_enabled = s.boolean();
  else if (name == "network.allow" || name == "packages.allow") {
    auto wanted = s.list();
    auto& ceiling = name == "network.allow" ? c.system_network_allow : c.system_packages_allow;
    if (s.origin.restricted(c) && ceiling) {
      for (const auto& entry : wanted) {
        if (std::find(ceiling->begin(), ceiling->end(), entry) == ceiling->end() &&
            std::find(ceiling->begin(), ceiling->end(), "*") == ceiling->end()) {
          s.refuse(fmt::format("\"{}\" is not in the system config's list; it may only be narrowed", entry));
        }
      }
    }
    if (!s.origin.restricted(c) && s.origin.kind == Source::Kind::system && s.origin.file != "(default)") ceiling = wanted;
    (name == "network.allow" ? c.network_allow : c.packages.allow) = std::move(wanted);
  } else if (name == "packages.deny") {
    // Every file's denials stand: later files add to them.
    for (auto& entry : s.list()) {
      if (std::find(c.packages.deny.begin(), c.packages.deny.end(), entry) == c.packages.deny.end()) c.packages.deny.push_back(entry);
    }
  } else if (name == "packages.python_index") c.packages.python_index = s.string();
  else if (name == "packages.python_find_links") {
    c.packages.python_find_links = s.list();
    for (const auto& dir : c.packages.python_find_links) {
      if (dir.empty() || dir.front() != '/') s.refuse(fmt::format("\"{}\" must be an absolute path", dir));
    }
  } else if (name == "packages.npm_registry") c.packages.npm_registry = s.string();
  else if (name == "packages.allow_builds") c.packages.allow_builds = s.boolean();
  else if (name == "jail.ro_binds") c.ro_binds = s.list();
  else if (name == "mcp.max_timeout") c.mcp_max_timeout = s.duration();
  else if (name == "serve.api_keys") {
    c.serve_api_keys = s.map();
    for (const auto& [key, who] : c.serve_api_keys) {
      if (key.size() < 16) s.refuse(fmt::format("key for \"{}\" is shorter than 16 characters", who));
      if (who.empty()) s.refuse("every key needs an identity");
    }
  } else if (name == "serve.max_sandboxes") c.serve_max_sandboxes = s.whole();
  else if (name == "serve.max_timeout") c.serve_max_timeout = s.duration();
  else if (name == "serve.max_connections") {
    c.serve_max_connections = s.whole();
    s.at_least(c.serve_max_connections, 4, false);
  }
  else if (name == "mcp.max_output") {
    c.mcp_max_output = s.whole();
    s.at_least(c.mcp_max_output, 1000, false);
  }
  else if (name == "languages.python.preload") {
    c.python_preload = s.list();
    for (const auto& module : c.python_preload) {
      const bool dotted_name = !module.empty() && module.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") == std::string::npos &&
                               module.front() != '.' && module.back() != '.' && module.find("..") == std::string::npos && !std::isdigit(static_cast<unsigned char>(module.front()));
      if (!dotted_name) s.refuse(fmt::format("\"{}\" is not a module name", module));
    }
  }
  else if (strings::starts_with(name, "languages.")) {
    auto argv = s.list();
    if (argv.empty() || argv[0].empty() || argv[0][0] != '/') s.refuse("expected a list starting with an absolute path");
    c.language_commands[strings::split(name, '.')[1]] = std::move(argv);
  }
}

} // namespace

void set_value(Config& config, const KeyInfo& key, const toml::node& node, const Origin& origin) {
  if (key.set_by == SetBy::system && origin.restricted(config)) {
    fail_at(origin.file, node.source(),
            fmt::format("{}: only the system config ({}) may set this", key.name, system_config_path()));
  }
  Setter setter{config, key, node, origin};
  const std::string_view name = key.name;
  if (key.type == KeyType::pattern_list) set_patterns(config, key, node, origin);
  else if (strings::starts_with(name, "limits.")) set_limit(setter);
  else if (strings::starts_with(name, "session.")) set_session(setter);
  else if (strings::starts_with(name, "identity.") || strings::starts_with(name, "access.") ||
           strings::starts_with(name, "audit.") || strings::starts_with(name, "policy."))
    set_access(setter);
  else set_other(setter);
  config.origins[std::string(name)] = origin.file;
  config.shown[std::string(name)] =
      key.type == KeyType::pattern_list ? fmt::format("[...] # {} patterns", config.patterns.size())
      : key.type == KeyType::string_map ? fmt::format("{{...}} # {} entries, not shown", config.serve_api_keys.size())
                                        : describe(node);
}

} // namespace sandpit::config
