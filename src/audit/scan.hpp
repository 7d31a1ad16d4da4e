// The reader's hot path: the log mapped into memory, split into chunks for threads, and lines scanned with RapidJSON SAX.
#pragma once

#include <cstdint>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandpit/audit/record.hpp"

namespace sandpit::audit {

// The bytes of a log file, mapped read-only. A missing file maps as empty.
// Only complete writes are seen: the size is taken under flock(LOCK_SH), and
// the log is append-only, so the bytes below it do not change afterwards.
class MappedFile {
public:
  explicit MappedFile(const std::filesystem::path& path); // throws Error("audit log <path>", why)
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {m_data, m_size}; }

private:
  const char* m_data = nullptr;
  std::size_t m_size = 0;
};

// The members of a line that queries and stats look at. The views point into
// `buffer`, a copy of the line parsed in place, and last until the next scan_row.
struct Row {
  std::string buffer;
  std::string_view ts, user, workspace, session, command, language, code_sha256, error, blocked, denied, prev, hash;
  std::int64_t ts_ms = 0;
  std::int64_t code_bytes = 0;
  std::int64_t exit_code = 0;
  std::int64_t duration_ms = 0;
  bool success = false;
  bool timed_out = false;
  bool has_language = false, has_code_sha256 = false, has_error = false, has_blocked = false, has_denied = false;
  bool has_extra = false; // a member beyond the fixed fields
  // Intent-first records (record.hpp): extra "phase" is "intent"; extra "intent" names the
  // intent an outcome completes; extra "interrupted" marks an outcome recorded for a lost run.
  bool is_intent = false;
  bool has_interrupted = false;
  std::string_view intent_ref;
  std::uint32_t seen = 0; // a bit per fixed field present with the right type
};

enum class Scan { record, truncated, invalid };

// Reads `line` (no '\n') into `row`. `record` when it is a JSON object with
// every fixed field of a record correctly typed; `truncated` when the JSON
// ends early (a torn write); `invalid` otherwise.
Scan scan_row(std::string_view line, Row& row);

// The Record a line holds, or nullopt when scan_row does not call it a record.
// Builds it from the scan; only a line with extra members goes through nlohmann.
std::optional<Record> record_from_line(std::string_view line, Row& row);

// "error", else "Blocked: <reason>", else "Denied: <reason>", else "".
std::string problem_text(const Row& row);

// The hash of a record's line, read from its end (`,"hash":"<64 hex>"}`) so that the
// view points into the line itself; "" when the line does not end that way.
std::string_view hash_of_line(std::string_view line);

// Splits `data` at line boundaries into at most one chunk per core (one chunk
// when small), so each can be scanned by its own thread.
std::vector<std::string_view> split_chunks(std::string_view data);

// Calls fn(line, index, terminated) for each line of `chunk`; index counts from 0
// within the chunk; `terminated` is false only for a final line without '\n'.
// Returns the number of lines.
template <typename Fn> std::uint64_t for_each_line(std::string_view chunk, Fn&& fn) {
  std::uint64_t index = 0;
  std::size_t pos = 0;
  while (pos < chunk.size()) {
    auto nl = chunk.find('\n', pos);
    bool terminated = nl != std::string_view::npos;
    std::size_t end = terminated ? nl : chunk.size();
    fn(chunk.substr(pos, end - pos), index++, terminated);
    pos = end + 1;
  }
  return index;
}

// Runs work(chunk) for each chunk on its own thread (the first on this one); results in chunk order.
template <typename Work> auto map_chunks(const std::vector<std::string_view>& chunks, Work work) {
  using Out = decltype(work(std::string_view{}));
  std::vector<std::future<Out>> rest;
  for (std::size_t i = 1; i < chunks.size(); ++i) rest.push_back(std::async(std::launch::async, work, chunks[i]));
  std::vector<Out> out;
  out.reserve(chunks.size());
  if (!chunks.empty()) out.push_back(work(chunks[0]));
  for (auto& f : rest) out.push_back(f.get());
  return out;
}

} // namespace sandpit::audit
