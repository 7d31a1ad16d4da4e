// `sandpit exec`: run code from -c, a file or stdin.
#include "commands.hpp"
#include "execute.hpp"

#include "sandpit/kernels/language.hpp"

#include <CLI/CLI.hpp>

namespace sandpit::cli {
namespace {

class ExecCommand final : public Command {
public:
  std::string_view name() const override { return "exec"; }
  std::string_view summary() const override { return "Run Python, JavaScript, TypeScript or shell code in the sandbox"; }

  void add_to(CLI::App& app) override {
    app.add_option("-w,--workspace", m_options.workspace, "Workspace directory (default: $SANDPIT_WORKSPACE or .)")->type_name("DIR");
    app.add_option("-l,--language", m_options.language, "python (py), javascript (js, node), typescript (ts) or bash (sh)")->type_name("LANG");
    app.add_option("-c,--code", m_options.code, "The code to run")->type_name("CODE");
    app.add_option("file", m_options.file, "A file to run, or - for stdin (the default)")->type_name("FILE");
    app.add_option("--timeout", m_options.timeout, "Wall-clock limit, e.g. 10s (default: limits.timeout)")->type_name("DUR");
    app.add_option("-p,--packages", m_options.packages, "Install these first (pip or npm; e.g. pandas==2.1,requests), unless installed")
        ->delimiter(',')
        ->type_name("NAME[,NAME...]");
    app.add_flag("--fresh", m_options.fresh, "Run in a throwaway sandbox instead of the workspace's session");
    app.add_flag("--no-wait", m_options.no_wait, "Fail with \"busy\" instead of queueing behind another execution");
    app.add_flag("--json", m_options.json, "Print one JSON object with the result instead of streaming");
    app.add_flag("--events", m_options.events, "Stream newline-delimited JSON events (Jupyter message names), then the result");
  }

  ExitCode run(Context& context) override { return run_execution(context, m_options); }

private:
  ExecOptions m_options;
};

} // namespace

std::unique_ptr<Command> make_exec_command() { return std::make_unique<ExecCommand>(); }

} // namespace sandpit::cli
