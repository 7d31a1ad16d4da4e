// `sandpit audit`: read the audit log (a table, one-line form or JSON Lines), or verify its hash chain.
#include "audit_scope.hpp"
#include "commands.hpp"

#include "sandpit/audit/format.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/util/terminal.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::cli {
namespace {

// The record's line as stored. An intent whose outcome never came gets one more
// member after "hash" (which does not cover it): "running": true, or "interrupted"
// with why ("no outcome was recorded; the session daemon (pid 4242) is gone").
std::string json_line(const audit::Record& r) {
  std::string line = audit::seal(r, r.prev).line;
  if (r.unfinished == audit::Unfinished::no) return line;
  line.resize(line.size() - 2); // "}\n"
  if (r.unfinished == audit::Unfinished::running) return line + ",\"running\":true}\n";
  auto why = audit::problem_text(r).substr(std::string_view("Interrupted: ").size());
  return line + ",\"interrupted\":" + nlohmann::json(why).dump() + "}\n";
}

class AuditCommand final : public Command {
public:
  std::string_view name() const override { return "audit"; }
  std::string_view summary() const override { return "Show who ran what and whether it worked, or verify the log's hash chain"; }

  void add_to(CLI::App& app) override {
    m_filter.add_to(app);
    app.add_flag("--failed", m_failed, "Only failed, blocked, denied or timed-out runs");
    app.add_option("-n,--limit", m_limit, "Show the last N matching records (default 50; 0 for all)")->type_name("N");
    app.add_option("--format", m_format, "table (default on a terminal), line, or json (JSON Lines, as stored)")
        ->check(CLI::IsMember({"table", "line", "json"}))
        ->type_name("FORMAT");
    app.add_flag("--json", m_json, "Same as --format json");
    m_verify = app.add_subcommand("verify", "Check every record's hash and chain link; name the first broken record");
  }

  ExitCode run(Context& context) override {
    const auto path = context.config().audit_file();
    if (m_verify->parsed()) return verify(path);
    auto query = m_filter.query(context, "audit");
    query.failed_only = m_failed;
    if (m_limit > 0) query.limit = static_cast<std::size_t>(m_limit);
    if (m_limit < 0) throw Error(ExitCode::usage, fmt::format("--limit {}", m_limit), "expected 0 or more");
    audit::ReadIssues issues;
    auto records = audit::query(path, query, &issues);
    if (issues.skipped_lines > 0) {
      fmt::print(stderr, "sandpit: audit log {}: skipped {} line(s) that are not records, the first at line {} (see 'sandpit audit verify')\n",
                 path.string(), issues.skipped_lines, issues.first_skipped_line.value_or(0));
    }
    const std::string format = m_json ? "json" : !m_format.empty() ? m_format : ::isatty(STDOUT_FILENO) ? "table" : "line";
    if (format == "json") {
      for (const auto& r : records) fmt::print("{}", json_line(r));
    } else if (format == "line") {
      for (const auto& r : records) fmt::print("{}\n", audit::format_line(r));
    } else {
      fmt::print("{}", audit::format_table(records, terminal_columns(STDOUT_FILENO)));
    }
    return ExitCode::success;
  }

private:
  ExitCode verify(const std::filesystem::path& path) const {
    auto report = audit::verify(path);
    if (m_json) {
      nlohmann::ordered_json problems = nlohmann::ordered_json::array();
      for (const auto& p : report.problems) problems.push_back({{"line", p.line}, {"message", p.message()}});
      fmt::print("{}\n", nlohmann::ordered_json{{"path", path.string()}, {"records", report.records}, {"ok", report.ok()}, {"problems", problems}}.dump());
    } else {
      fmt::print("{}: {}\n", path.string(), report.summary());
      for (std::size_t i = 1; i < report.problems.size() && i < 20; ++i) fmt::print("  {}\n", report.problems[i].message());
    }
    return report.ok() ? ExitCode::success : ExitCode::code_failed;
  }

  AuditFilter m_filter;
  bool m_failed = false;
  long m_limit = 50;
  std::string m_format;
  bool m_json = false;
  CLI::App* m_verify = nullptr;
};

} // namespace

std::unique_ptr<Command> make_audit_command() { return std::make_unique<AuditCommand>(); }

} // namespace sandpit::cli
