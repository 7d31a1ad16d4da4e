// `sandpit install NAME...`: packages into the workspace's session (pip for Python, npm for JavaScript), as an
// execution with no code; the REPL's `.install` is this command.
#include "commands.hpp"
#include "execute.hpp"

#include "sandpit/kernels/language.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>

namespace sandpit::cli {
namespace {

class InstallCommand final : public Command {
public:
  std::string_view name() const override { return "install"; }
  std::string_view summary() const override { return "Install packages into the workspace (pip for Python, npm for JavaScript)"; }

  void add_to(CLI::App& app) override {
    app.add_option("packages", m_options.packages, "Packages, e.g. pandas==2.1 requests (Python) or lodash@4 (JavaScript)")
        ->required()
        ->type_name("NAME");
    app.add_option("-w,--workspace", m_options.workspace, "Workspace directory (default: $SANDPIT_WORKSPACE or .)")->type_name("DIR");
    app.add_option("-l,--language", m_options.language, "Whose packages: python (pip; the default) or javascript/typescript (npm)")->type_name("LANG");
    app.add_option("--timeout", m_options.timeout, "Wall-clock limit, e.g. 2m (default: limits.timeout)")->type_name("DUR");
    app.add_flag("--json", m_options.json, "Print one JSON object with the result (packages_installed)");
  }

  ExitCode run(Context& context) override {
    // In the REPL, .install serves the language the REPL is in.
    if (m_options.language.empty()) {
      const char* repl_language = std::getenv("SANDPIT_LANGUAGE");
      m_options.language = repl_language != nullptr && *repl_language != '\0' ? repl_language : "python";
    }
    m_options.code = "";
    m_options.command = "install";
    return run_execution(context, m_options);
  }

private:
  ExecOptions m_options;
};

} // namespace

std::unique_ptr<Command> make_install_command() { return std::make_unique<InstallCommand>(); }

} // namespace sandpit::cli
