// `sandpit shell`: run a shell command line in the sandbox (exec -l bash -c ...).
#include "commands.hpp"
#include "execute.hpp"

#include "sandpit/util/strings.hpp"

#include <CLI/CLI.hpp>

namespace sandpit::cli {
namespace {

class ShellCommand final : public Command {
public:
  std::string_view name() const override { return "shell"; }
  std::string_view summary() const override { return "Run a shell command line in the sandbox, cwd /workspace"; }

  void add_to(CLI::App& app) override {
    app.add_option("-w,--workspace", m_options.workspace, "Workspace directory (default: $SANDPIT_WORKSPACE or .)")->type_name("DIR");
    app.add_option("--timeout", m_options.timeout, "Wall-clock limit, e.g. 10s (default: limits.timeout)")->type_name("DUR");
    app.add_flag("--fresh", m_options.fresh, "Run in a throwaway sandbox instead of the workspace's session");
    app.add_flag("--no-wait", m_options.no_wait, "Fail with \"busy\" instead of queueing behind another execution");
    app.add_flag("--json", m_options.json, "Print one JSON object with the result instead of streaming");
    app.add_flag("--events", m_options.events, "Stream newline-delimited JSON events (Jupyter message names), then the result");
    app.add_option("command", m_words, "The command line (quote it, or put it after --)")->required()->type_name("CMD");
  }

  ExitCode run(Context& context) override {
    m_options.language = "bash";
    m_options.command = "shell";
    m_options.code = strings::join(m_words, " ");
    return run_execution(context, m_options);
  }

private:
  ExecOptions m_options;
  std::vector<std::string> m_words;
};

} // namespace

std::unique_ptr<Command> make_shell_command() { return std::make_unique<ShellCommand>(); }

} // namespace sandpit::cli
