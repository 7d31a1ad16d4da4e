// Stats: per-user and per-(user, language) execution figures computed from the audit log.
#pragma once

#include "sandpit/audit/reader.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sandpit::audit {

// Figures over a set of executions.
// An execution is a record whose language is not null, whichever command wrote
// it (exec, shell, repl, mcp, serve): code someone tried to run, including
// blocked, denied and timed-out attempts. Uploads, downloads, audit and stats
// commands write no language and are not. A run's intent record is not counted
// itself: its outcome is, or, when the outcome never came and the process that
// owed it is gone, the run counts as interrupted (a failure of unknown length).
// A run still going is not counted yet.
struct Summary {
  std::uint64_t executions = 0;
  std::uint64_t successes = 0;
  double success_rate = 0; // successes / executions; 0 with no executions
  // Mean and percentiles are over the runs that ended (not the interrupted ones).
  double mean_ms = 0;
  // Nearest-rank percentiles of duration_ms: the value at 1-based rank
  // ceil(p/100 * n) of the sorted durations (10,20,30,40,100: p50 30, p95 100).
  std::int64_t p50_ms = 0;
  std::int64_t p95_ms = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t blocked = 0;
  std::uint64_t denied = 0;
  std::uint64_t interrupted = 0; // never ended: their process died (see above)
  // The last 3 distinct problem_text()s, most recent (latest in the file) first.
  std::vector<std::string> recent_errors;
};

struct GroupStats {
  std::string user;
  std::string language;
  Summary summary;
};

struct UserStats {
  std::string user;
  Summary summary;
};

struct Stats {
  std::vector<GroupStats> groups; // sorted by user, then language
  std::vector<UserStats> users;   // sorted by user
  Summary total;
  std::uint64_t skipped_lines = 0; // lines that are not records (torn or garbage)
};

// Stats over the executions in the log that match `query` (its limit is ignored).
// A missing file gives empty stats. Throws Error("audit log <path>", why) when unreadable.
Stats stats(const std::filesystem::path& path, const Query& query);

// {"total": {...}, "users": [{"user", ...figures, "languages": [{"language", ...}]}], "skipped_lines"}
nlohmann::json to_json(const Stats& stats);

} // namespace sandpit::audit
