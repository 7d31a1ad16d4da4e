// Command: one subcommand (CLI) or dot-command (REPL), declared once and registered in one table.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/exit_code.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace sandpit::cli {

// What every command gets: the global options, and the config loaded on first use.
class Context {
public:
  std::string config_file; // --config
  std::string via;         // "" for the command line; "repl" for a dot-command (audited as such, output escaped)

  // Loads defaults + files once; throws Error(usage) on a bad config.
  const config::Config& config();

private:
  std::unique_ptr<config::Config> m_config;
};

class Command {
public:
  virtual ~Command() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view summary() const = 0;
  // Declares the command's options on its CLI11 subcommand.
  virtual void add_to(CLI::App& app) = 0;
  virtual ExitCode run(Context& context) = 0;
  // Whether the REPL offers it as a dot-command (`mcp` takes over stdin and stdout: not there).
  virtual bool in_repl() const { return true; }
};

// Every command, in the order `--help` lists them.
std::vector<std::unique_ptr<Command>> make_commands();

// Parses argv, runs the chosen command, prints `sandpit: <what>: <why>` on failure.
int run(int argc, char** argv);

} // namespace sandpit::cli
