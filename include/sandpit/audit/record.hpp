// Record: one line of the audit log, and its exact serialisation into a hash-chained JSON line.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sandpit::audit {

// The `prev` of the first record in a log.
inline constexpr std::string_view k_genesis = "0000000000000000000000000000000000000000000000000000000000000000";
// `error` values longer than this are cut (at a UTF-8 character boundary) and end in "...".
inline constexpr std::size_t k_max_error_bytes = 2000;

// Intent-first records: an action's intent is appended before it has any effect
// (extra "phase": "intent", and "owner": the process that will record the outcome),
// and its outcome after, as a record whose extra "intent" is the intent's hash.
// A record with neither (a refusal, an old log's record) is complete on its own.
inline constexpr std::string_view k_phase_intent = "intent";

// What a reader knows of an intent record whose outcome is not in the log.
enum class Unfinished {
  no,          // not an intent, or its outcome is in the log
  running,     // its owner still lives
  interrupted, // its owner is gone: it never ended
};

// One audited action. Serialised as one JSON object whose members come in the
// order declared here: the fixed fields, then `extra`'s members in insertion
// order, then `prev`, then `hash` last.
struct Record {
  std::int64_t ts_ms = 0; // ms since the Unix epoch, UTC; written as "2025-01-04T19:30:45.123Z"
  std::string user;
  std::string workspace; // the host directory
  std::string session;   // "" outside a session
  std::string command;   // "exec", "shell", "upload", "download", "mcp", "audit", "stats", ...
  std::optional<std::string> language;
  std::optional<std::string> code_sha256; // lowercase hex
  std::int64_t code_bytes = 0;
  bool success = false;
  int exit_code = 0;
  bool timed_out = false;
  std::int64_t duration_ms = 0;
  std::optional<std::string> error;   // "Name: value"
  std::optional<std::string> blocked; // the policy reason
  std::optional<std::string> denied;  // the access-denied reason
  // Further members (e.g. "files": [{path, bytes, sha256}], "client": {name, version});
  // always an object. Its keys must not repeat a field above, "prev" or "hash".
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  std::string prev; // set by Log::append and parse_record
  std::string hash; // set by Log::append and parse_record
  // Set by query() on an intent whose outcome is missing; never written.
  Unfinished unfinished = Unfinished::no;

  bool operator==(const Record&) const = default;
};

// A record turned into its log line.
struct Sealed {
  std::string line; // `{...,"prev":"<hex>","hash":"<hex>"}\n`
  std::string hash; // SHA-256 of `line` up to `"prev":"<hex>"` followed by `}`
};

// Serialises `record` chained to `prev` (64 hex digits). Cuts a long `error`.
// Throws Error if `extra` is not an object or repeats a fixed field.
Sealed seal(const Record& record, std::string_view prev);

// The record a log line holds (with or without its trailing newline), or
// nullopt when the line is not a JSON object with the fields of a record.
// Does not check the hash: verify() does.
std::optional<Record> parse_record(std::string_view line);

// Lowercase hex SHA-256 of `a` followed by `b`.
std::string sha256_hex(std::string_view a, std::string_view b = {});

// Whether `record` is an intent (extra "phase" is "intent").
bool is_intent(const Record& record);
// The hash of the intent `record` completes (extra "intent"), or "".
std::string completes(const Record& record);

// `error`, else "Blocked: <reason>", else "Denied: <reason>", else ""; for an
// interrupted intent, "Interrupted: no outcome was recorded; <owner> is gone".
std::string problem_text(const Record& record);

} // namespace sandpit::audit
