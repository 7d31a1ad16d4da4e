#include "sandpit/audit/reader.hpp"

#include "filter.hpp"
#include "pairing.hpp"
#include "scan.hpp"
#include "sha256.hpp"

#include "sandpit/audit/owner.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sandpit::audit {

namespace {

constexpr std::string_view k_hash_member = ",\"hash\":\"";

// What one thread found in its chunk of the log for a query.
struct QueryChunk {
  std::uint64_t lines = 0;
  std::vector<std::string_view> matches; // records complete on their own, and outcomes
  OpenIntents intents;
  std::uint64_t skipped = 0;
  std::optional<std::uint64_t> first_skipped; // 0-based within the chunk
};

QueryChunk query_chunk(std::string_view chunk, const Query& q) {
  QueryChunk out;
  Row row;
  out.lines = for_each_line(chunk, [&](std::string_view line, std::uint64_t index, bool) {
    if (scan_row(line, row) != Scan::record) {
      ++out.skipped;
      if (!out.first_skipped) out.first_skipped = index;
      return;
    }
    if (!matches_identity(row, q)) return;
    out.intents.note(row, line);
    if (!row.is_intent && matches(row, q)) out.matches.push_back(line);
  });
  return out;
}

// One line of the answer: an intent left open says whether it runs or was interrupted.
struct Match {
  std::string_view line;
  Unfinished unfinished = Unfinished::no;
};

// The matches and the intents never completed that match too, in file order.
std::vector<Match> merge_open(std::vector<QueryChunk>& chunks, const Query& q) {
  std::vector<OpenIntents> pairing;
  std::vector<Match> out;
  for (auto& chunk : chunks) {
    pairing.push_back(std::move(chunk.intents));
    for (auto line : chunk.matches) out.push_back({line, Unfinished::no});
  }
  std::vector<Match> open;
  Row row;
  for (auto line : never_completed(pairing)) {
    if (scan_row(line, row) != Scan::record || !matches(row, q)) continue;
    const auto state = unfinished_state(line);
    if (q.failed_only && state == Unfinished::running) continue; // not failed (yet)
    open.push_back({line, state});
  }
  if (open.empty()) return out;
  std::vector<Match> merged(out.size() + open.size());
  std::merge(out.begin(), out.end(), open.begin(), open.end(), merged.begin(),
             [](const Match& a, const Match& b) { return a.line.data() < b.line.data(); });
  return merged;
}

// What one thread found verifying its chunk. Each chunk checks the chain
// between its own records; the first record's prev is checked on merging.
struct VerifyChunk {
  std::uint64_t lines = 0;
  std::uint64_t records = 0;
  std::vector<Problem> problems; // line numbers within the chunk (1-based)
  std::uint64_t first_record_line = 0; // 0: no record in the chunk
  std::string first_prev;
  std::uint64_t last_record_line = 0;
  std::string last_hash;
};

// The problem with one line, if any: the line alone, before the chain is looked at.
std::optional<ProblemKind> check_line(std::string_view line, bool terminated, Row& row) {
  if (!terminated) return ProblemKind::torn_record;
  Scan scan = scan_row(line, row);
  if (scan == Scan::truncated) return ProblemKind::torn_record;
  if (scan == Scan::invalid) return ProblemKind::not_a_record;
  // Recompute over the stored bytes: the text before the last `,"hash":"`, closed by '}'.
  auto at = line.rfind(k_hash_member);
  if (at == std::string_view::npos || at + k_hash_member.size() + 64 + 2 != line.size() || !line.ends_with("\"}"))
    return ProblemKind::not_a_record;
  std::string_view stored = line.substr(at + k_hash_member.size(), 64);
  if (stored != row.hash || !hex_equals(stored, sha256(line.substr(0, at), "}"))) return ProblemKind::hash_mismatch;
  return std::nullopt;
}

VerifyChunk verify_chunk(std::string_view chunk) {
  VerifyChunk out;
  Row row;
  out.lines = for_each_line(chunk, [&](std::string_view line, std::uint64_t index, bool terminated) {
    std::uint64_t number = index + 1;
    auto kind = check_line(line, terminated, row);
    if (kind) out.problems.push_back({number, *kind});
    if (kind && *kind != ProblemKind::hash_mismatch) return;
    // A changed record still links the chain by its stored hash: one edit, one problem.
    ++out.records;
    if (out.first_record_line == 0) {
      out.first_record_line = number;
      out.first_prev = row.prev;
    } else if (row.prev != out.last_hash) {
      out.problems.push_back({number, ProblemKind::broken_chain, out.last_record_line});
    }
    out.last_record_line = number;
    out.last_hash = row.hash;
  });
  return out;
}

} // namespace

Unfinished unfinished_state(std::string_view line) {
  auto record = parse_record(line);
  if (!record || !record->extra.contains("owner")) return Unfinished::interrupted;
  auto owner = Owner::from_json(record->extra["owner"]);
  return owner && owner->alive() ? Unfinished::running : Unfinished::interrupted;
}

std::vector<Record> query(const std::filesystem::path& path, const Query& q, ReadIssues* issues) {
  MappedFile file(path);
  auto chunks = map_chunks(split_chunks(file.bytes()), [&](std::string_view c) { return query_chunk(c, q); });
  std::uint64_t line_base = 0;
  for (auto& chunk : chunks) {
    if (issues) {
      issues->skipped_lines += chunk.skipped;
      if (!issues->first_skipped_line && chunk.first_skipped) issues->first_skipped_line = line_base + *chunk.first_skipped + 1;
    }
    line_base += chunk.lines;
  }
  auto lines = merge_open(chunks, q);
  std::size_t first = q.limit && *q.limit < lines.size() ? lines.size() - *q.limit : 0;
  std::vector<Record> out;
  out.reserve(lines.size() - first);
  Row row;
  for (std::size_t i = first; i < lines.size(); ++i) {
    if (auto record = record_from_line(lines[i].line, row)) {
      record->unfinished = lines[i].unfinished;
      out.push_back(std::move(*record));
    }
  }
  return out;
}

VerifyReport verify(const std::filesystem::path& path) {
  MappedFile file(path);
  auto chunks = map_chunks(split_chunks(file.bytes()), verify_chunk);
  VerifyReport report;
  std::uint64_t last_line = 0; // the line of the last record before this chunk
  std::string last_hash{k_genesis};
  for (auto& chunk : chunks) {
    std::uint64_t base = report.lines;
    std::vector<Problem> boundary;
    if (chunk.first_record_line != 0 && chunk.first_prev != last_hash)
      boundary.push_back({base + chunk.first_record_line, ProblemKind::broken_chain, last_line});
    for (auto& p : chunk.problems) {
      p.line += base;
      if (p.kind == ProblemKind::broken_chain) p.chained_line += base;
    }
    // Keep line order: the boundary problem belongs after the chunk's problems on earlier lines.
    auto at = std::find_if(chunk.problems.begin(), chunk.problems.end(),
                           [&](const Problem& p) { return !boundary.empty() && p.line > boundary[0].line; });
    chunk.problems.insert(at, boundary.begin(), boundary.end());
    report.problems.insert(report.problems.end(), chunk.problems.begin(), chunk.problems.end());
    report.lines += chunk.lines;
    report.records += chunk.records;
    if (chunk.last_record_line != 0) {
      last_line = base + chunk.last_record_line;
      last_hash = chunk.last_hash;
    }
  }
  return report;
}

std::string Problem::message() const {
  switch (kind) {
  case ProblemKind::hash_mismatch:
    return fmt::format("line {}: hash mismatch (the record was changed after it was written)", line);
  case ProblemKind::broken_chain:
    if (chained_line == 0)
      return fmt::format("line {}: broken chain: prev is not the start of the log (records before it were removed?)", line);
    return fmt::format("line {}: broken chain: prev does not match line {} (a record was removed or reordered)", line,
                       chained_line);
  case ProblemKind::torn_record: return fmt::format("line {}: torn record (a crash during a write?)", line);
  case ProblemKind::not_a_record: return fmt::format("line {}: not a record", line);
  }
  return {};
}

std::string VerifyReport::summary() const {
  if (problems.empty()) return fmt::format("{} records, chain intact", records);
  std::string out = problems.front().message();
  if (problems.size() > 1) out += fmt::format(" (and {} more problems)", problems.size() - 1);
  return out;
}

} // namespace sandpit::audit
