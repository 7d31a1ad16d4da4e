// `sandpit download SANDBOX_PATH [HOST_PATH]`: copy a file or tree out of /workspace or /persist.
#include "commands.hpp"
#include "transfer.hpp"

#include <CLI/CLI.hpp>

namespace sandpit::cli {
namespace {

class DownloadCommand final : public Command {
public:
  std::string_view name() const override { return "download"; }
  std::string_view summary() const override { return "Copy a file or directory out of the sandbox's /workspace or /persist"; }

  void add_to(CLI::App& app) override {
    app.add_option("sandbox_path", m_sandbox, "What to copy: relative to /workspace, or under /workspace or /persist")
        ->required()
        ->type_name("SANDBOX_PATH");
    app.add_option("host_path", m_host, "Where it goes on the host (default: ./<name>)")->type_name("HOST_PATH");
    app.add_option("-w,--workspace", m_options.workspace, "Workspace directory (default: $SANDPIT_WORKSPACE or .)")->type_name("DIR");
    app.add_flag("-r,--recursive", m_options.recursive, "Copy a directory and everything in it");
    app.add_flag("-f,--force", m_options.force, "Replace existing host files (never written through a symlink)");
    app.add_flag("--json", m_options.json, "Print what was copied as JSON (paths, bytes, sha256)");
  }

  ExitCode run(Context& context) override {
    return run_transfer(context, "download", m_sandbox, m_host.empty() ? "." : m_host, m_options,
                        [&](const files::Roots& roots, const files::Transfer& transfer) {
                          return files::download(roots, files::parse_sandbox_path(m_sandbox), m_host, transfer);
    });
  }

private:
  std::string m_sandbox;
  std::string m_host;
  TransferOptions m_options;
};

} // namespace

std::unique_ptr<Command> make_download_command() { return std::make_unique<DownloadCommand>(); }

} // namespace sandpit::cli
