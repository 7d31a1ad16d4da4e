#include "sandpit/audit/log.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/fault.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sandpit::audit {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_chunk = 64 * 1024;

[[noreturn]] void fail(const fs::path& path, const std::string& why) {
  throw Error(ExitCode::sandbox_setup, "audit log " + path.string(), why);
}

void make_parents(const fs::path& path) {
  fs::path partial;
  for (const auto& part : path.parent_path()) {
    partial /= part;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
      fail(path, "create directory " + partial.string() + ": " + std::strerror(errno));
  }
}

sys::Fd open_log(const fs::path& path) {
  constexpr int flags = O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC;
  sys::Fd fd(::open(path.c_str(), flags, 0600));
  if (!fd.valid() && errno == ENOENT) {
    make_parents(path);
    fd.reset(::open(path.c_str(), flags, 0600));
  }
  if (!fd.valid()) fail(path, std::strerror(errno));
  return fd;
}

std::string read_at(const fs::path& path, int fd, off_t offset, std::size_t size) {
  std::string out(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out.data() + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, std::string("read: ") + std::strerror(errno));
    if (n == 0) fail(path, "read: the file shrank while it was locked");
    done += static_cast<std::size_t>(n);
  }
  return out;
}

// The offset just after the last '\n' in [0, end), reading backwards in chunks
// (never the whole file: the log can be hundreds of MB).
off_t line_start(const fs::path& path, int fd, off_t end) {
  while (end > 0) {
    off_t from = std::max<off_t>(0, end - static_cast<off_t>(k_chunk));
    std::string chunk = read_at(path, fd, from, static_cast<std::size_t>(end - from));
    auto nl = chunk.rfind('\n');
    if (nl != std::string::npos) return from + static_cast<off_t>(nl) + 1;
    end = from;
  }
  return 0;
}

// 1 + the number of newlines before `offset`: the line number of a line starting there.
std::uint64_t line_number(const fs::path& path, int fd, off_t offset) {
  std::uint64_t line = 1;
  for (off_t at = 0; at < offset; at += static_cast<off_t>(k_chunk)) {
    auto size = static_cast<std::size_t>(std::min<off_t>(static_cast<off_t>(k_chunk), offset - at));
    std::string chunk = read_at(path, fd, at, size);
    line += static_cast<std::uint64_t>(std::count(chunk.begin(), chunk.end(), '\n'));
  }
  return line;
}

struct Tail {
  std::string prev{k_genesis};         // the hash of the last valid record
  std::optional<off_t> torn_start;     // where an unterminated last line starts
};

// Finds the last record that parses, walking back over complete lines.
Tail read_tail(const fs::path& path, int fd, off_t size) {
  Tail tail;
  if (size == 0) return tail;
  off_t end = size;
  if (read_at(path, fd, size - 1, 1) != "\n") {
    tail.torn_start = line_start(path, fd, size);
    end = *tail.torn_start;
  }
  while (end > 0) {
    off_t start = line_start(path, fd, end - 1);
    auto record = parse_record(read_at(path, fd, start, static_cast<std::size_t>(end - start)));
    if (record && record->hash.size() == k_genesis.size()) {
      tail.prev = record->hash;
      break;
    }
    end = start;
  }
  return tail;
}

} // namespace

Log::Log(fs::path path, Sync sync, Clock clock) : m_path(std::move(path)), m_sync(sync), m_clock(std::move(clock)) {}

namespace {

// The log, opened and locked (flock belongs to this open file description:
// concurrent writers in this process and in others exclude each other), and its size.
struct Locked {
  sys::Fd fd;
  off_t size = 0;
};

Locked lock_log(const fs::path& path) {
  Locked l{open_log(path), 0};
  while (::flock(l.fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) fail(path, std::string("lock: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(l.fd.get(), &st) != 0) fail(path, std::string("stat: ") + std::strerror(errno));
  l.size = st.st_size;
  return l;
}

// Whether a complete record in [from, size) has `"intent":"<hash>"`.
bool completed_after(const fs::path& path, int fd, off_t from, off_t size, std::string_view hash) {
  if (from < 0 || from >= size) return false;
  const std::string needle = fmt::format("\"intent\":\"{}\"", hash);
  auto want = static_cast<off_t>(16 * k_chunk);
  for (off_t at = from; at < size;) {
    // Whole lines, a chunk at a time; a line longer than a chunk is read whole.
    off_t end = std::min<off_t>(size, at + want);
    std::string chunk = read_at(path, fd, at, static_cast<std::size_t>(end - at));
    auto last_nl = chunk.rfind('\n');
    if (last_nl == std::string::npos) {
      if (end == size) return false; // an unterminated last line is torn: it completes nothing
      want *= 2;
      continue;
    }
    chunk.resize(last_nl + 1);
    for (auto hit = chunk.find(needle); hit != std::string::npos; hit = chunk.find(needle, hit + 1)) {
      auto start = chunk.rfind('\n', hit);
      start = start == std::string::npos ? 0 : start + 1;
      auto line = std::string_view(chunk).substr(start, chunk.find('\n', hit) - start);
      auto record = parse_record(line);
      if (record && record->extra.value("intent", std::string()) == hash) return true;
    }
    at += static_cast<off_t>(chunk.size());
  }
  return false;
}

} // namespace

std::string Log::append(Record record) {
  auto locked = lock_log(m_path);
  return append_locked(locked.fd.get(), locked.size, std::move(record)); // closing the descriptor releases the lock
}

bool Log::append_once(Record completion, std::string_view intent_hash, std::string_view intent_line, std::uint64_t at) {
  auto locked = lock_log(m_path);
  const auto from = static_cast<off_t>(at);
  if (intent_line.empty() || from + static_cast<off_t>(intent_line.size()) > locked.size ||
      read_at(m_path, locked.fd.get(), from, intent_line.size()) != intent_line) {
    return false;
  }
  if (completed_after(m_path, locked.fd.get(), from, locked.size, intent_hash)) return false;
  append_locked(locked.fd.get(), locked.size, std::move(completion));
  return true;
}

std::string Log::append_locked(int fd, off_t size, Record record) {
  m_torn_line.reset();
  Tail tail = read_tail(m_path, fd, size);
  record.ts_ms = m_clock();
  Sealed sealed = seal(record, tail.prev);
  std::string data;
  if (tail.torn_start) {
    m_torn_line = line_number(m_path, fd, *tail.torn_start);
    data = "\n"; // the torn bytes keep their own line; one write for both keeps it atomic
  }
  m_offset = static_cast<std::uint64_t>(size) + data.size();
  data += sealed.line;
  if (fault::armed("audit-line")) {
    // The crash tests' torn write: half the line reaches the file, then the process dies.
    (void)sys::write_all(fd, std::string_view(data).substr(0, data.size() / 2));
    fault::die();
  }
  // O_APPEND and one write(2) under the lock: no reader sees half a line
  // unless the system dies mid-write, which the next append repairs.
  if (auto written = sys::write_all(fd, data); !written) {
    // A full disk may take part of the line: cut it off again, so the log holds no torn record.
    (void)::ftruncate(fd, size);
    fail(m_path, std::strerror(written.failure().err));
  }
  if (m_sync == Sync::yes && ::fdatasync(fd) != 0) fail(m_path, std::string("fdatasync: ") + std::strerror(errno));
  m_line = std::move(sealed.line);
  return sealed.hash;
}

std::string torn_line_warning(const fs::path& path, std::uint64_t line) {
  return fmt::format("audit log {}: line {} is torn (a crash during a write?); kept, and reported by 'sandpit audit verify'",
                     path.string(), line);
}

} // namespace sandpit::audit
