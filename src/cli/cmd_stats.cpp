// `sandpit stats`: executions, success rate, durations, timeouts, blocked and denied runs, per user and language.
#include "audit_scope.hpp"
#include "commands.hpp"

#include "sandpit/audit/format.hpp"
#include "sandpit/audit/stats.hpp"
#include "sandpit/util/terminal.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::cli {
namespace {

class StatsCommand final : public Command {
public:
  std::string_view name() const override { return "stats"; }
  std::string_view summary() const override { return "Execution figures per user and language, computed from the audit log"; }

  void add_to(CLI::App& app) override {
    m_filter.add_to(app);
    app.add_flag("--json", m_json, "Print JSON");
  }

  ExitCode run(Context& context) override {
    const auto path = context.config().audit_file();
    auto stats = audit::stats(path, m_filter.query(context, "stats"));
    if (stats.skipped_lines > 0) {
      fmt::print(stderr, "sandpit: audit log {}: skipped {} line(s) that are not records (see 'sandpit audit verify')\n", path.string(),
                 stats.skipped_lines);
    }
    if (m_json) {
      fmt::print("{}\n", audit::to_json(stats).dump(2));
      return ExitCode::success;
    }
    fmt::print("{}", audit::format_stats_table(stats, terminal_columns(STDOUT_FILENO)));
    for (const auto& u : stats.users) {
      if (u.summary.recent_errors.empty()) continue;
      fmt::print("\nlast errors of {}:\n", u.user);
      for (const auto& e : u.summary.recent_errors) fmt::print("  {}\n", e);
    }
    return ExitCode::success;
  }

private:
  AuditFilter m_filter;
  bool m_json = false;
};

} // namespace

std::unique_ptr<Command> make_stats_command() { return std::make_unique<StatsCommand>(); }

} // namespace sandpit::cli
