#include "sandpit/audit/stats.hpp"

#include "filter.hpp"
#include "pairing.hpp"
#include "scan.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>

namespace sandpit::audit {

namespace {

constexpr std::size_t k_recent_errors = 3;

// A run is a record with a language, whatever front end wrote it (exec, shell,
// repl, mcp, serve, and any added later); transfers and refusals to read the
// log have none. Listing the front ends instead left REPL cells out. An intent
// is counted through its outcome, or as interrupted when it has none.
bool is_execution(const Row& row) { return row.has_language && !row.is_intent; }

// A problem text and where in the file it last occurred (any increasing number).
struct Seen {
  std::uintptr_t at = 0;
  std::string text;
};

// Running figures for one group; merged across chunks, groups and users, then summarised.
struct Acc {
  std::uint64_t executions = 0, successes = 0, timeouts = 0, blocked = 0, denied = 0, interrupted = 0;
  std::vector<std::int64_t> durations; // of the runs that ended: an interrupted one has no duration
  // Up to k_recent_errors distinct texts, latest first. Keeping each group's
  // last few is enough for any union of groups: a text in the union's last 3
  // has fewer than 3 distinct texts after it in its own group too.
  std::vector<Seen> recent;

  void note(const Seen& seen) {
    auto same = std::find_if(recent.begin(), recent.end(), [&](const Seen& s) { return s.text == seen.text; });
    if (same != recent.end()) {
      if (same->at >= seen.at) return;
      recent.erase(same);
    }
    auto before = std::find_if(recent.begin(), recent.end(), [&](const Seen& s) { return s.at < seen.at; });
    recent.insert(before, seen);
    if (recent.size() > k_recent_errors) recent.pop_back();
  }
  void add(const Row& row, std::uintptr_t at) {
    ++executions;
    successes += row.success;
    timeouts += row.timed_out;
    blocked += row.has_blocked;
    denied += row.has_denied;
    if (row.has_interrupted) ++interrupted;
    else durations.push_back(row.duration_ms);
    if (row.has_error || row.has_blocked || row.has_denied) note({at, problem_text(row)});
  }
  // An intent whose outcome never came and whose owner is gone: a failed run of unknown length.
  void add_interrupted(std::string text, std::uintptr_t at) {
    ++executions;
    ++interrupted;
    note({at, std::move(text)});
  }
  void merge(const Acc& other) {
    executions += other.executions;
    interrupted += other.interrupted;
    successes += other.successes;
    timeouts += other.timeouts;
    blocked += other.blocked;
    denied += other.denied;
    durations.insert(durations.end(), other.durations.begin(), other.durations.end());
    for (const auto& seen : other.recent) note(seen);
  }
};

// Groups keyed by "user\0language": one string, so a lookup allocates nothing once the key's capacity is there.
using Groups = std::unordered_map<std::string, Acc>;

struct StatsChunk {
  Groups groups;
  OpenIntents intents;
  std::uint64_t skipped = 0;
};

Acc& group_of(Groups& groups, const Row& row, std::string& key) {
  key.assign(row.user).push_back('\0');
  key.append(row.language);
  auto it = groups.find(key);
  if (it == groups.end()) it = groups.emplace(key, Acc{}).first;
  return it->second;
}

StatsChunk stats_chunk(std::string_view chunk, const Query& q) {
  StatsChunk out;
  Row row;
  std::string key;
  for_each_line(chunk, [&](std::string_view line, std::uint64_t, bool) {
    if (scan_row(line, row) != Scan::record) {
      ++out.skipped;
      return;
    }
    if (!row.has_language || !matches_identity(row, q)) return;
    out.intents.note(row, line);
    if (!is_execution(row) || !matches(row, q)) return;
    // The line's address orders it: every chunk lies in the same mapping.
    group_of(out.groups, row, key).add(row, reinterpret_cast<std::uintptr_t>(line.data()));
  });
  return out;
}

// Intents never completed whose owner is gone count as interrupted runs, in the group of their user and language.
void add_interrupted(std::vector<StatsChunk>& chunks, const Query& q) {
  std::vector<OpenIntents> pairing;
  for (auto& chunk : chunks) pairing.push_back(std::move(chunk.intents));
  Row row;
  std::string key;
  for (auto line : never_completed(pairing)) {
    if (scan_row(line, row) != Scan::record || !matches(row, q) || unfinished_state(line) != Unfinished::interrupted) continue;
    Record shown;
    shown.unfinished = Unfinished::interrupted;
    if (auto record = parse_record(line)) shown.extra = std::move(record->extra);
    group_of(chunks.front().groups, row, key).add_interrupted(problem_text(shown), reinterpret_cast<std::uintptr_t>(line.data()));
  }
}

// Nearest rank: the value at 1-based rank ceil(p/100 * n) of the sorted values.
std::int64_t percentile(std::vector<std::int64_t>& values, int p) {
  if (values.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(static_cast<double>(p) * static_cast<double>(values.size()) / 100.0));
  auto nth = values.begin() + static_cast<std::ptrdiff_t>(std::max<std::size_t>(rank, 1) - 1);
  std::nth_element(values.begin(), nth, values.end());
  return *nth;
}

Summary summarise(Acc acc) {
  Summary s;
  s.executions = acc.executions;
  s.interrupted = acc.interrupted;
  s.successes = acc.successes;
  s.timeouts = acc.timeouts;
  s.blocked = acc.blocked;
  s.denied = acc.denied;
  if (s.executions != 0) s.success_rate = static_cast<double>(s.successes) / static_cast<double>(s.executions);
  if (!acc.durations.empty()) {
    double sum = std::accumulate(acc.durations.begin(), acc.durations.end(), 0.0);
    s.mean_ms = sum / static_cast<double>(acc.durations.size());
  }
  s.p50_ms = percentile(acc.durations, 50);
  s.p95_ms = percentile(acc.durations, 95);
  for (auto& seen : acc.recent) s.recent_errors.push_back(std::move(seen.text));
  return s;
}

nlohmann::json summary_json(const Summary& s) {
  return {{"executions", s.executions}, {"successes", s.successes}, {"success_rate", s.success_rate},
          {"mean_ms", s.mean_ms},       {"p50_ms", s.p50_ms},        {"p95_ms", s.p95_ms},
          {"timeouts", s.timeouts},     {"blocked", s.blocked},      {"denied", s.denied},
          {"interrupted", s.interrupted}, {"recent_errors", s.recent_errors}};
}

} // namespace

Stats stats(const std::filesystem::path& path, const Query& q) {
  MappedFile file(path);
  auto chunks = map_chunks(split_chunks(file.bytes()), [&](std::string_view c) { return stats_chunk(c, q); });
  if (!chunks.empty()) add_interrupted(chunks, q);
  Stats out;
  std::map<std::pair<std::string, std::string>, Acc> groups; // ordered: the output is sorted
  for (auto& chunk : chunks) {
    out.skipped_lines += chunk.skipped;
    for (auto& [key, acc] : chunk.groups) {
      auto split = key.find('\0');
      groups[{key.substr(0, split), key.substr(split + 1)}].merge(acc);
    }
  }
  std::map<std::string, Acc> users;
  Acc total;
  for (auto& [key, acc] : groups) {
    users[key.first].merge(acc);
    total.merge(acc);
  }
  for (auto& [key, acc] : groups) out.groups.push_back({key.first, key.second, summarise(std::move(acc))});
  for (auto& [user, acc] : users) out.users.push_back({user, summarise(std::move(acc))});
  out.total = summarise(std::move(total));
  return out;
}

nlohmann::json to_json(const Stats& stats) {
  nlohmann::json users = nlohmann::json::array();
  for (const auto& u : stats.users) {
    nlohmann::json entry = summary_json(u.summary);
    entry["user"] = u.user;
    entry["languages"] = nlohmann::json::array();
    for (const auto& g : stats.groups)
      if (g.user == u.user) {
        nlohmann::json lang = summary_json(g.summary);
        lang["language"] = g.language;
        entry["languages"].push_back(std::move(lang));
      }
    users.push_back(std::move(entry));
  }
  return {{"total", summary_json(stats.total)}, {"users", std::move(users)}, {"skipped_lines", stats.skipped_lines}};
}

} // namespace sandpit::audit
