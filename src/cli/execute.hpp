// Running one execution for a command (exec, shell): reading the code, printing the result.
#pragma once

#include "sandpit/cli/command.hpp"
#include "sandpit/kernels/language.hpp"

#include <optional>
#include <string>
#include <vector>

namespace sandpit::cli {

struct ExecOptions {
  std::string workspace;
  std::string language; // empty: from the file extension, else python
  std::optional<std::string> code;
  std::string file;     // "" or "-": stdin
  std::string timeout;  // empty: limits.timeout
  bool fresh = false;
  bool json = false;
  bool no_wait = false;
  bool events = false;
  std::vector<std::string> packages; // installed before the code runs
  std::string command = "exec"; // for the audit record: "exec" | "shell"
};

// Resolves the code and language, runs it in a sandbox, prints the output, returns the exit code.
ExitCode run_execution(Context& context, const ExecOptions& options);

} // namespace sandpit::cli
