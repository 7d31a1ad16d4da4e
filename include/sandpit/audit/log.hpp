// Log: the writer of the append-only, hash-chained audit log (JSON Lines).
#pragma once

#include "sandpit/audit/record.hpp"
#include "sandpit/audit/time.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace sandpit::audit {

// Whether append() waits for the record to reach the disk (fdatasync) before returning.
enum class Sync { yes, no };

// Appends records to one log file. Safe across threads and processes: each
// append opens the file, takes flock(LOCK_EX), chains to the last record, and
// writes the line with one write(2). Holds no descriptor between appends.
class Log {
public:
  explicit Log(std::filesystem::path path, Sync sync = Sync::no, Clock clock = system_now_ms);

  // Stamps `record.ts_ms` from the clock (under the lock, so file order is
  // time order), chains it to the last valid record and appends it. Creates
  // the parent directories (0700) and the file (0600) when missing.
  // If the file ends in a torn record (a crash mid-write), first ends that
  // line with "\n" so it stays its own line, chains past it, and notes its
  // line number in last_torn_line().
  // Returns the new record's hash. Throws Error("audit log <path>", why); a write
  // that fails part-way (a full disk) is cut back off, so it leaves no torn line.
  std::string append(Record record);

  // Appends `completion` (a record whose extra "intent" is `intent_hash`) if the
  // log holds `intent_line` (that intent, as sealed) at byte `at` and no complete
  // record after it completes that intent yet: the checks and the append hold the
  // lock together, so two processes recovering the same lost run write one
  // completion, and a marker that names no intent of this log writes none.
  // Returns whether it appended.
  bool append_once(Record completion, std::string_view intent_hash, std::string_view intent_line, std::uint64_t at);

  // Where the last append()ed record starts in the file (its byte offset).
  std::uint64_t last_offset() const { return m_offset; }
  // The last append()ed record's line, as written (with its "\n").
  const std::string& last_line() const { return m_line; }

  // The line number of the torn record the last append() found and closed, if any.
  // The caller prints torn_line_warning() for it.
  std::optional<std::uint64_t> last_torn_line() const { return m_torn_line; }

  const std::filesystem::path& path() const { return m_path; }

private:
  std::filesystem::path m_path;
  Sync m_sync;
  Clock m_clock;
  std::optional<std::uint64_t> m_torn_line;
  std::uint64_t m_offset = 0;
  std::string m_line;

  std::string append_locked(int fd, off_t size, Record record);
};

// "audit log <path>: line N is torn (a crash during a write?); kept, and reported by 'sandpit audit verify'"
std::string torn_line_warning(const std::filesystem::path& path, std::uint64_t line);

} // namespace sandpit::audit
