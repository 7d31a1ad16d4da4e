// `sandpit upload HOST_PATH [SANDBOX_PATH]`: copy a file or tree into /workspace or /persist.
#include "commands.hpp"
#include "transfer.hpp"

#include <CLI/CLI.hpp>

namespace sandpit::cli {
namespace {

class UploadCommand final : public Command {
public:
  std::string_view name() const override { return "upload"; }
  std::string_view summary() const override { return "Copy a host file or directory into the sandbox's /workspace or /persist"; }

  void add_to(CLI::App& app) override {
    app.add_option("host_path", m_host, "The host file (or directory, with -r) to copy")->required()->type_name("HOST_PATH");
    app.add_option("sandbox_path", m_sandbox, "Where it goes: relative to /workspace, or under /workspace or /persist (default: /workspace/<name>)")
        ->type_name("SANDBOX_PATH");
    app.add_option("-w,--workspace", m_options.workspace, "Workspace directory (default: $SANDPIT_WORKSPACE or .)")->type_name("DIR");
    app.add_flag("-r,--recursive", m_options.recursive, "Copy a directory and everything in it");
    app.add_flag("--json", m_options.json, "Print what was copied as JSON (paths, bytes, sha256)");
  }

  ExitCode run(Context& context) override {
    const std::string to = m_sandbox.empty() ? "/workspace" : m_sandbox;
    return run_transfer(context, "upload", m_host, to, m_options, [&](const files::Roots& roots, const files::Transfer& transfer) {
      return files::upload(m_host, roots, files::parse_sandbox_path(to), transfer);
    });
  }

private:
  std::string m_host;
  std::string m_sandbox;
  TransferOptions m_options;
};

} // namespace

std::unique_ptr<Command> make_upload_command() { return std::make_unique<UploadCommand>(); }

} // namespace sandpit::cli
