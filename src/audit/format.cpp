#include "sandpit/audit/format.hpp"

#include "sandpit/audit/time.hpp"
#include "sandpit/util/strings.hpp"

#include <fmt/format.h>

#include <array>

namespace sandpit::audit {

namespace {

constexpr std::size_t k_table_width = 120;
constexpr std::size_t k_stats_width = 114; // 18 + 10 + 6 + 6 + 8 + 7 + 7 + 8 + 7 + 6 + 11 + 10 two-space gaps

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

using strings::columns;

// `text` on one line, cut to `width` columns with a trailing "…" when longer.
std::string cell(std::string_view text, std::size_t width) {
  std::string flat(text);
  for (char& c : flat)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (columns(flat) <= width) return flat;
  std::size_t kept = 0, i = 0;
  for (; i < flat.size(); ++i) {
    if (!is_continuation(flat[i]) && kept++ == width - 1) break;
  }
  return flat.substr(0, i) + "…";
}

// Left-aligned text padded to `width` columns (fmt pads by bytes, which would misalign UTF-8).
std::string pad(std::string_view text, std::size_t width) {
  std::string out = cell(text, width);
  out.append(width - columns(out), ' ');
  return out;
}

struct Column {
  std::string_view name;
  std::size_t width;
  bool right;
};

// time, user, command, language, ok, exit, ms, error: 24+18+8+10+3+4+7+32 columns plus 7 two-space gaps = 120.
constexpr std::array<Column, 8> k_columns = {{{"time", 24, false}, {"user", 18, false}, {"command", 8, false},
                                              {"language", 10, false}, {"ok", 3, false}, {"exit", 4, true},
                                              {"ms", 7, true}, {"error", 32, false}}};

constexpr std::size_t table_width() {
  std::size_t width = 2 * (k_columns.size() - 1);
  for (const auto& col : k_columns) width += col.width;
  return width;
}
static_assert(table_width() == k_table_width);

std::string row_text(const std::array<std::string, 8>& cells) {
  std::string out;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto& col = k_columns[i];
    std::string text = cell(cells[i], col.width);
    std::size_t gap = col.width - columns(text);
    if (i != 0) out += "  ";
    if (col.right) out.append(gap, ' ');
    out += text;
    if (!col.right && i + 1 != cells.size()) out.append(gap, ' ');
  }
  return out + "\n";
}

std::string percent(double rate) { return fmt::format("{:.1f}", rate * 100.0); }

std::string stats_row(std::string_view user, std::string_view language, const Summary& s) {
  return fmt::format("{}  {}  {:>6}  {:>6}  {:>8.0f}  {:>7}  {:>7}  {:>8}  {:>7}  {:>6}  {:>11}\n", pad(user, 18), pad(language, 10),
                     s.executions, percent(s.success_rate), s.mean_ms, s.p50_ms, s.p95_ms, s.timeouts, s.blocked, s.denied,
                     s.interrupted);
}

// The ok column: yes, no, or "…" for a run still going.
std::string_view ok_text(const Record& r) {
  if (r.unfinished == Unfinished::running) return "…";
  return r.success ? "yes" : "no";
}

} // namespace

std::string format_line(const Record& r) {
  std::string problem = problem_text(r);
  return fmt::format("{} | User: {} | Language: {} | Success: {} | Time: {}ms | Error: {}", format_ts(r.ts_ms), r.user,
                     r.language.value_or("None"), r.unfinished == Unfinished::running ? "running" : r.success ? "true" : "false",
                     r.duration_ms, problem.empty() ? "None" : problem);
}

std::string format_table(const std::vector<Record>& records, std::size_t width) {
  if (width != 0 && width < k_table_width) {
    // A narrow terminal: the record's time, then its figures and its problem, each line cut to fit.
    std::string out;
    for (const auto& r : records) {
      out += cell(format_ts(r.ts_ms), width) + "\n";
      out += strings::flow({cell(r.user, width - 2), r.command, r.language.value_or("-"),
                            r.unfinished == Unfinished::running ? "running" : r.success ? "ok" : "failed",
                            fmt::format("exit {}", r.exit_code), fmt::format("{} ms", r.duration_ms)},
                           width, "  ");
      if (auto problem = problem_text(r); !problem.empty()) out += "  " + cell(problem, width - 2) + "\n";
    }
    return out;
  }
  std::array<std::string, 8> header;
  for (std::size_t i = 0; i < k_columns.size(); ++i) header[i] = k_columns[i].name;
  std::string out = row_text(header);
  for (const auto& r : records) {
    out += row_text({format_ts(r.ts_ms), r.user, r.command, r.language.value_or("-"), std::string(ok_text(r)),
                     std::to_string(r.exit_code), std::to_string(r.duration_ms), problem_text(r)});
  }
  return out;
}

namespace {

// The figures of one stats row as a block for a narrow terminal.
std::string stats_block(std::string_view user, std::string_view language, const Summary& s, std::size_t width) {
  return cell(fmt::format("{} · {}", user, language), width) + "\n" +
         strings::flow({fmt::format("{} runs", s.executions), percent(s.success_rate) + "% ok", fmt::format("mean {:.0f} ms", s.mean_ms),
                        fmt::format("p50 {} ms", s.p50_ms), fmt::format("p95 {} ms", s.p95_ms), fmt::format("{} timeouts", s.timeouts),
                        fmt::format("{} blocked", s.blocked), fmt::format("{} denied", s.denied),
                        fmt::format("{} interrupted", s.interrupted)},
                       width, "  ");
}

} // namespace

std::string format_stats_table(const Stats& stats, std::size_t width) {
  if (width != 0 && width < k_stats_width) {
    std::string out;
    for (const auto& u : stats.users) {
      for (const auto& g : stats.groups)
        if (g.user == u.user) out += stats_block(g.user, g.language, g.summary, width);
      out += stats_block(u.user, "(all)", u.summary, width);
    }
    return out + stats_block("(everyone)", "(all)", stats.total, width);
  }
  std::string out = fmt::format("{}  {}  {:>6}  {:>6}  {:>8}  {:>7}  {:>7}  {:>8}  {:>7}  {:>6}  {:>11}\n", pad("user", 18),
                                pad("language", 10), "runs", "ok%", "mean ms", "p50 ms", "p95 ms", "timeouts", "blocked",
                                "denied", "interrupted");
  for (const auto& u : stats.users) {
    for (const auto& g : stats.groups)
      if (g.user == u.user) out += stats_row(g.user, g.language, g.summary);
    out += stats_row(u.user, "(all)", u.summary);
  }
  out += stats_row("(everyone)", "(all)", stats.total);
  return out;
}

} // namespace sandpit::audit
