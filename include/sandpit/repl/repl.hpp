// The REPL: `sandpit` with no arguments; cells of code in the workspace's session, dot-commands through the CLI's registry.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/exit_code.hpp"

#include <functional>
#include <string>
#include <vector>

namespace sandpit::repl {

enum class InlineImages { when_supported, never };

struct Options {
  std::string workspace;   // -w; empty: $SANDPIT_WORKSPACE or the current directory
  std::string language;    // -l; empty: python
  std::string config_file; // --config, for the session daemon
  bool keep_going = false; // batch: run every cell, not only those before the first failure
  InlineImages inline_images = InlineImages::when_supported;
};

// One command of the CLI's registry, as the REPL offers it (".exec").
struct CommandInfo {
  std::string name;
  std::string summary;
  std::vector<std::string> options; // "--json", "-w", ... for completion
};

// How the REPL reaches the CLI's commands without a parser of its own: the
// CLI hands it the registry's names and a function that parses argv
// ({"exec", "-c", "1"}) with the same CLI11 app and runs the command, printing
// any error as `sandpit: <what>: <why>` and returning its exit code.
struct Dispatcher {
  std::vector<CommandInfo> commands;
  std::function<ExitCode(const std::vector<std::string>& argv)> run;
};

// Runs the REPL on this process's stdin/stdout: interactive with line
// editing when stdin is a terminal, batch (no prompts, no colour, stop at the
// first failure unless keep_going) otherwise. Returns the exit status:
// interactive 0; batch that of the first failed cell, or 0.
ExitCode run(const config::Config& config, const Options& options, const Dispatcher& dispatcher);

} // namespace sandpit::repl
