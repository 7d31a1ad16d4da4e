// `sandpit mcp`: the Model Context Protocol server on stdin/stdout, for AI agents.
#include "commands.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/mcp/tools.hpp"

#include "sandpit/util/fault.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <mutex>
#include <unistd.h>

namespace sandpit::cli {
namespace {

class McpCommand final : public Command {
public:
  std::string_view name() const override { return "mcp"; }
  std::string_view summary() const override { return "Serve the Model Context Protocol on stdin/stdout (for AI agents)"; }
  bool in_repl() const override { return false; }

  void add_to(CLI::App& app) override {
    app.add_option("--allow-dir", m_allow_dirs, "Let upload_file and download_file use host_path under DIR (repeatable)")->type_name("DIR");
    app.add_flag("--structured", m_structured, "Declare output schemas and send structuredContent (the exec --json object)");
  }

  ExitCode run(Context& context) override {
    fault::set_role(fault::Role::mcp);
    mcp::ToolsOptions options;
    for (const auto& dir : m_allow_dirs) {
      std::error_code ec;
      auto canonical = std::filesystem::canonical(dir, ec);
      if (ec || !std::filesystem::is_directory(canonical)) throw Error(ExitCode::usage, "--allow-dir " + dir, ec ? ec.message() : "not a directory");
      options.allow_dirs.push_back(canonical);
    }
    options.structured = m_structured;
    options.config_file = context.config_file;
    // Loaded by the first tool call, not at start: clients start throwaway copies to probe the version.
    options.config = [&context, this]() -> const config::Config& {
      std::lock_guard lock(m_config_mutex);
      return context.config();
    };
    // stdout carries protocol messages only: anything else that writes there reaches stderr instead.
    int protocol_out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (protocol_out < 0) throw Error(ExitCode::usage, "mcp", "stdout is not open");
    std::fflush(stdout);
    ::dup2(STDERR_FILENO, STDOUT_FILENO);
    std::signal(SIGPIPE, SIG_IGN); // a client that hangs up ends the read loop, not the process
    auto tools = mcp::make_sandpit_tools(std::move(options));
    if (!mcp::serve_lines(*tools, STDIN_FILENO, protocol_out)) {
      // A call did not stop in time: leave without waiting for it (the session daemon goes on).
      std::fflush(stderr);
      ::_exit(0);
    }
    ::close(protocol_out);
    return ExitCode::success;
  }

private:
  std::vector<std::string> m_allow_dirs;
  bool m_structured = false;
  std::mutex m_config_mutex;
};

} // namespace

std::unique_ptr<Command> make_mcp_command() { return std::make_unique<McpCommand>(); }

} // namespace sandpit::cli
