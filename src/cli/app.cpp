// The top level: global options, one CLI11 subcommand per registered Command, the one catch.
#include "sandpit/cli/command.hpp"

#include "sandpit/core/error.hpp"

#include "sandpit/util/trace.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>

namespace sandpit::cli {

const config::Config& Context::config() {
  if (!m_config) m_config = std::make_unique<config::Config>(config::load({config_file}));
  return *m_config;
}

namespace {

void print_error(const std::string& what, const std::string& why) {
  std::fflush(stdout);
  fmt::print(stderr, "sandpit: {}: {}\n", what, why);
}

} // namespace

int run(int argc, char** argv) {
  CLI::App app{"sandpit: run untrusted Python, JavaScript and shell code in a local sandbox", "sandpit"};
  app.set_version_flag("-V,--version", "sandpit " SANDPIT_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  Context context;
  app.add_option("--config", context.config_file, "Read this config file after the user config")->type_name("FILE");

  auto commands = make_commands();
  std::vector<std::pair<CLI::App*, Command*>> subs;
  for (auto& command : commands) {
    auto* sub = app.add_subcommand(std::string(command->name()), std::string(command->summary()));
    command->add_to(*sub);
    subs.emplace_back(sub, command.get());
  }
  try {
    app.parse(argc, argv);
    trace::mark("parsed");
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error("usage", fmt::format("{} (see 'sandpit --help')", e.what()));
    return static_cast<int>(ExitCode::usage);
  }
  try {
    for (auto& [sub, command] : subs) {
      if (sub->parsed()) return static_cast<int>(command->run(context));
    }
  } catch (const Error& e) {
    print_error(e.subject(), e.reason());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    print_error("internal error", e.what());
    return static_cast<int>(ExitCode::sandbox_setup);
  }
  return static_cast<int>(ExitCode::usage);
}

} // namespace sandpit::cli
