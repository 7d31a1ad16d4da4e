// `sandpit config show|check|path`: the effective settings and where each came from.
#include "commands.hpp"

#include "sandpit/config/keys.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sandpit::cli {
namespace {

using nlohmann::ordered_json;

// "/home/ada/.config/x" -> "~/.config/x"
std::string tilde(const std::string& path) {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0' || home == std::string_view("/")) return path;
  const std::string prefix = std::string(home) + "/";
  return path.rfind(prefix, 0) == 0 ? "~/" + path.substr(prefix.size()) : path;
}

std::string_view kind_name(config::Source::Kind kind) {
  switch (kind) {
  case config::Source::Kind::system: return "system";
  case config::Source::Kind::user: return "user";
  case config::Source::Kind::explicit_file: return "--config";
  }
  return "?";
}

class ConfigCommand final : public Command {
public:
  std::string_view name() const override { return "config"; }
  std::string_view summary() const override { return "Show the effective config, check a config file, or list the files read"; }

  void add_to(CLI::App& app) override {
    app.add_option("action", m_action, "show (every value and its origin), check FILE, or path (the files read)")
        ->required()
        ->check(CLI::IsMember({"show", "check", "path"}))
        ->type_name("ACTION");
    app.add_option("file", m_file, "check: the config file to validate")->type_name("FILE");
    app.add_flag("--json", m_json, "Print JSON");
  }

  ExitCode run(Context& context) override {
    if (m_action == "check") return check_file();
    if (!m_file.empty()) throw Error(ExitCode::usage, "config " + m_action, "takes no file (did you mean 'config check FILE'?)");
    const auto& config = context.config();
    if (m_action == "show") show(config);
    else path(config);
    return ExitCode::success;
  }

private:
  void show(const config::Config& config) const {
    auto values = config::effective_values(config);
    if (m_json) {
      ordered_json out = ordered_json::object();
      for (const auto& v : values) out[v.key] = {{"value", ordered_json::parse(v.json)}, {"origin", v.origin}};
      fmt::print("{}\n", out.dump(2));
      return;
    }
    for (const auto& v : values) {
      auto origin = tilde(v.origin);
      fmt::print("{} {} = {}\n", origin.front() == '(' ? origin : "(" + origin + ")", v.key, v.toml);
    }
  }

  void path(const config::Config& config) const {
    if (m_json) {
      ordered_json out = ordered_json::array();
      for (const auto& s : config.sources) out.push_back({{"path", s.path}, {"kind", kind_name(s.kind)}, {"read", s.read}});
      fmt::print("{}\n", out.dump(2));
      return;
    }
    for (const auto& s : config.sources) fmt::print("{:<8}  {}  {}\n", kind_name(s.kind), s.read ? "read   " : "missing", s.path);
  }

  ExitCode check_file() const {
    if (m_file.empty()) throw Error(ExitCode::usage, "config check", "needs the FILE to check");
    auto text = check(sys::read_file(m_file), ExitCode::usage, "config " + m_file);
    config::Config config;
    for (const auto& key : config::key_table()) {
      config::apply_toml(config, fmt::format("{} = {}\n", key.name, key.default_value), "(default)", config::Source::Kind::system);
    }
    config::apply_toml(config, text, m_file, config::Source::Kind::user);
    if (m_json) fmt::print("{}\n", ordered_json{{"file", m_file}, {"ok", true}}.dump());
    else fmt::print("{}: ok\n", m_file);
    return ExitCode::success;
  }

  std::string m_action;
  std::string m_file;
  bool m_json = false;
};

} // namespace

std::unique_ptr<Command> make_config_command() { return std::make_unique<ConfigCommand>(); }

} // namespace sandpit::cli
