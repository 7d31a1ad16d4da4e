// Reading the audit log: filtered queries, and verification of the hash chain.
#pragma once

#include "sandpit/audit/record.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sandpit::audit {

// Which records to read. Every set filter must hold.
struct Query {
  std::optional<std::string> user; // nullopt: all users
  std::optional<std::int64_t> since_ms; // ts >= since_ms
  std::optional<std::int64_t> until_ms; // ts < until_ms
  std::optional<std::string> language;
  bool failed_only = false; // success == false (includes blocked, denied, timeouts and interrupted runs)
  std::optional<std::size_t> limit; // the LAST N matches, still in file order
};

// Lines a read skipped because they are not records (torn or garbage), for the caller to warn about.
struct ReadIssues {
  std::uint64_t skipped_lines = 0;
  std::optional<std::uint64_t> first_skipped_line; // 1-based
};

// The records of the log at `path` that match `query`, in file order: one per
// action. An intent whose outcome is in the log is left out (the outcome stands
// for both); an intent with none comes with `unfinished` set (running while its
// owner lives, else interrupted). A missing file has no records. Skips lines that
// are not records and counts them in `*issues` when given. Does not check hashes
// (verify() does).
// Throws Error("audit log <path>", why) when the file cannot be read.
std::vector<Record> query(const std::filesystem::path& path, const Query& query, ReadIssues* issues = nullptr);

enum class ProblemKind { hash_mismatch, broken_chain, torn_record, not_a_record };

struct Problem {
  std::uint64_t line = 0; // 1-based
  ProblemKind kind = ProblemKind::not_a_record;
  // For broken_chain: the line of the previous record, whose hash `prev` should
  // equal; 0 when the record is the first one and `prev` is not 64 zeros.
  std::uint64_t chained_line = 0;

  // "line 42: hash mismatch (the record was changed after it was written)"
  std::string message() const;
};

struct VerifyReport {
  std::uint64_t lines = 0;
  std::uint64_t records = 0; // lines that are records (whether or not their hash checks)
  std::vector<Problem> problems; // in line order

  bool ok() const { return problems.empty(); }
  // "N records, chain intact" or the first problem's message and how many more there are.
  std::string summary() const;
};

// Checks every line of the log: it is a record, its hash matches its stored
// bytes, and its prev is the hash of the record before it (64 zeros for the
// first). A missing file is an empty, intact log.
// A chain cannot show that the LAST records were deleted: the truncated file
// is a valid log. Detecting that needs the last hash kept elsewhere (e.g.
// printed, or sent off-host); this function does not pretend to.
// Throws Error("audit log <path>", why) when the file cannot be read.
VerifyReport verify(const std::filesystem::path& path);

} // namespace sandpit::audit
