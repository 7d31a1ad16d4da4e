// Human-readable text for audit records and stats: one-line summaries and fixed-width tables.
#pragma once

#include "sandpit/audit/record.hpp"
#include "sandpit/audit/stats.hpp"

#include <string>
#include <vector>

namespace sandpit::audit {

// "2025-01-04T19:30:45.123Z | User: a@b.c | Language: python | Success: true | Time: 1234ms | Error: None"
// Error shows problem_text() ("Name: value", "Blocked: <reason>" or "Denied: <reason>"),
// or "None"; a null language shows "None".
std::string format_line(const Record& record);

// A table with columns time, user, command, language, ok, exit, ms, error and a
// header row; no line is wider than 120 columns (long cells end in "…"). A
// terminal narrower than that (`width`, 0: none) gets a block per record instead,
// its lines no wider than `width`.
std::string format_table(const std::vector<Record>& records, std::size_t width = 0);

// One row per (user, language), then the user's total, then the overall total:
// runs, ok%, mean, p50, p95, timeouts, blocked, denied, interrupted. Narrower than 114
// columns (`width`), a block per row.
std::string format_stats_table(const Stats& stats, std::size_t width = 0);

} // namespace sandpit::audit
