// `sandpit volume info|export FILE.tar|import FILE.tar`: the per-user /persist volume.
#include "commands.hpp"
#include "transfer.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/quota.hpp"
#include "sandpit/files/volume.hpp"
#include "sandpit/util/units.hpp"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sandpit::cli {
namespace {

class VolumeCommand final : public Command {
public:
  std::string_view name() const override { return "volume"; }
  std::string_view summary() const override { return "Show, export or import the per-user volume mounted at /persist"; }

  void add_to(CLI::App& app) override {
    app.add_option("action", m_action, "info, export FILE.tar, or import FILE.tar")
        ->required()
        ->check(CLI::IsMember({"info", "export", "import"}))
        ->type_name("ACTION");
    app.add_option("file", m_file, "The tar file to write (export) or read (import)")->type_name("FILE");
    app.add_flag("-f,--force", m_options.force, "export: replace an existing FILE");
    app.add_flag("--json", m_options.json, "Print JSON");
  }

  ExitCode run(Context& context) override {
    if (m_action == "info") return info(context);
    if (m_file.empty()) throw Error(ExitCode::usage, "volume " + m_action, "needs the tar FILE");
    const bool out = m_action == "export";
    const std::string command = out ? "export" : "import";
    m_options.volume_only = true;
    return run_transfer(context, command, out ? "/persist" : m_file, out ? m_file : "/persist", m_options,
                        [&](const files::Roots& roots, const files::Transfer& transfer) {
                          return out ? files::export_tar(roots.persist.get(), m_file, transfer.overwrite)
                                     : files::import_tar(m_file, roots.persist.get(), transfer.max_bytes);
                        });
  }

private:
  ExitCode info(Context& context) {
    files::enter_persist_mount(context.config());
    ensure_persist_dir();
    sys::Fd root(::open(persist_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) throw Error(ExitCode::sandbox_setup, "open " + persist_dir().string(), errno_failure("open").message());
    auto usage = files::measure(root.get());
    if (m_options.json) {
      fmt::print("{}\n", nlohmann::ordered_json{{"path", persist_dir().string()}, {"bytes", usage.bytes}, {"files", usage.files},
                                                {"directories", usage.directories}}
                             .dump());
    } else {
      fmt::print("/persist is {}\n{} in {} files and {} directories\n", persist_dir().string(), units::format_size(usage.bytes), usage.files,
                 usage.directories);
    }
    return ExitCode::success;
  }

  std::string m_action;
  std::string m_file;
  TransferOptions m_options;
};

} // namespace

std::unique_ptr<Command> make_volume_command() { return std::make_unique<VolumeCommand>(); }

} // namespace sandpit::cli
