#include "scan.hpp"

#include "sandpit/audit/time.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"

#if defined(__SSE2__)
#define RAPIDJSON_SSE2 // 16 bytes at a time when scanning strings and whitespace
#endif
#include <rapidjson/reader.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>

namespace sandpit::audit {

namespace {

constexpr std::size_t k_min_chunk = 4 << 20; // below this a thread costs more than it saves
constexpr std::size_t k_max_threads = 8;

// The fixed fields, their bit in Row::seen, and the JSON type each must have.
enum class Kind { string, nullable_string, integer, boolean };
enum Field : int { ts, user, workspace, session, command, language, code_sha256, code_bytes, success, exit_code,
                   timed_out, duration_ms, error, blocked, denied, prev, hash, k_field_count, other = k_field_count };
constexpr std::uint32_t k_all_fields = (1u << k_field_count) - 1;

struct FieldInfo {
  std::string_view name;
  Kind kind;
};
constexpr FieldInfo k_fields[k_field_count] = {
    {"ts", Kind::string},           {"user", Kind::string},         {"workspace", Kind::string},
    {"session", Kind::string},      {"command", Kind::string},      {"language", Kind::nullable_string},
    {"code_sha256", Kind::nullable_string}, {"code_bytes", Kind::integer}, {"success", Kind::boolean},
    {"exit_code", Kind::integer},   {"timed_out", Kind::boolean},   {"duration_ms", Kind::integer},
    {"error", Kind::nullable_string}, {"blocked", Kind::nullable_string}, {"denied", Kind::nullable_string},
    {"prev", Kind::string},         {"hash", Kind::string}};

// The field named `key`. Records list their fields in order, so the one after
// `previous` is tried first; a full search only for extras and odd lines.
Field field_of(std::string_view key, Field previous) {
  int guess = previous == other ? 0 : previous + 1;
  if (guess < k_field_count && k_fields[guess].name == key) return static_cast<Field>(guess);
  for (int i = 0; i < k_field_count; ++i)
    if (k_fields[i].name == key) return static_cast<Field>(i);
  return other;
}

// The extra members the reader looks at (intent-first records).
enum class Extra { none, phase, intent, interrupted };

Extra extra_of(std::string_view key) {
  if (key == "phase") return Extra::phase;
  if (key == "intent") return Extra::intent;
  if (key == "interrupted") return Extra::interrupted;
  return Extra::none;
}

// SAX events for one line: top-level members (depth 1) fill the Row; nested values are skipped.
class RowHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, RowHandler> {
public:
  explicit RowHandler(Row& row) : m_row(row) {}
  // A fixed field held a value of the wrong type.
  bool mistyped_field() const { return m_bad; }

  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (m_depth != 1) return true;
    m_field = field_of({s, n}, m_field);
    m_row.has_extra |= m_field == other;
    m_extra = m_field == other ? extra_of({s, n}) : Extra::none;
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (m_depth == 1 && m_field == other) {
      extra_string({s, n});
      return true;
    }
    if (!accept(Kind::string)) return true;
    if (std::string_view* out = target(true)) *out = {s, n};
    return true;
  }
  bool Null() {
    if (accept(Kind::nullable_string)) target(false);
    return true;
  }
  bool Bool(bool b) {
    if (accept(Kind::boolean)) (m_field == success ? m_row.success : m_row.timed_out) = b;
    return true;
  }
  bool Int(int i) { return integer(i); }
  bool Uint(unsigned u) { return integer(u); }
  bool Int64(std::int64_t i) { return integer(i); }
  bool Uint64(std::uint64_t u) { return integer(static_cast<std::int64_t>(std::min<std::uint64_t>(u, INT64_MAX))); }
  bool Double(double) { return mistyped(); }
  bool StartObject() {
    if (m_depth == 1) mistyped();
    return ++m_depth, true;
  }
  bool EndObject(rapidjson::SizeType) { return --m_depth, true; }
  bool StartArray() {
    if (m_depth == 1) mistyped();
    return ++m_depth, true;
  }
  bool EndArray(rapidjson::SizeType) { return --m_depth, true; }

private:
  void extra_string(std::string_view value) {
    switch (m_extra) {
    case Extra::phase: m_row.is_intent = value == k_phase_intent; break;
    case Extra::intent: m_row.intent_ref = value; break;
    case Extra::interrupted: m_row.has_interrupted = true; break;
    case Extra::none: break;
    }
  }
  bool integer(std::int64_t i) {
    if (!accept(Kind::integer)) return true;
    if (m_field == duration_ms) m_row.duration_ms = i;
    else if (m_field == code_bytes) m_row.code_bytes = i;
    else m_row.exit_code = i;
    return true;
  }
  bool mistyped() {
    if (m_depth == 1 && m_field != other) m_bad = true;
    return true;
  }
  // Marks the current fixed member seen if a value of `kind` suits it.
  bool accept(Kind kind) {
    if (m_depth != 1 || m_field == other) return false;
    Kind want = k_fields[m_field].kind;
    bool fits = want == kind || (want == Kind::nullable_string && kind == Kind::string);
    if (!fits) {
      m_bad = true;
      return false;
    }
    m_row.seen |= 1u << m_field;
    return true;
  }
  // Where the current member's string goes, if the Row keeps it; notes whether a nullable one is present.
  std::string_view* target(bool present);

  Row& m_row;
  int m_depth = 0;
  Field m_field = other;
  Extra m_extra = Extra::none;
  bool m_bad = false;
};

std::string_view* RowHandler::target(bool present) {
  switch (m_field) {
  case ts: return &m_row.ts;
  case user: return &m_row.user;
  case workspace: return &m_row.workspace;
  case session: return &m_row.session;
  case code_sha256: return (m_row.has_code_sha256 = present), &m_row.code_sha256;
  case command: return &m_row.command;
  case language: return (m_row.has_language = present), &m_row.language;
  case error: return (m_row.has_error = present), &m_row.error;
  case blocked: return (m_row.has_blocked = present), &m_row.blocked;
  case denied: return (m_row.has_denied = present), &m_row.denied;
  case prev: return &m_row.prev;
  case hash: return &m_row.hash;
  default: return nullptr;
  }
}

} // namespace

Scan scan_row(std::string_view line, Row& row) {
  row.seen = 0;
  row.has_language = row.has_code_sha256 = row.has_error = row.has_blocked = row.has_denied = row.has_extra = false;
  row.is_intent = row.has_interrupted = false;
  row.intent_ref = {};
  // In-situ parsing over a private copy: no string is copied out, and the
  // mapped file stays read-only. The padding lets SIMD loads run past the end.
  row.buffer.assign(line);
  row.buffer.append(16, '\0');
  RowHandler handler(row);
  rapidjson::InsituStringStream stream(row.buffer.data());
  rapidjson::Reader reader;
  auto result = reader.Parse<rapidjson::kParseInsituFlag>(stream, handler);
  if (result.IsError())
    return !line.empty() && result.Offset() >= line.size() ? Scan::truncated : Scan::invalid;
  if (handler.mistyped_field() || row.seen != k_all_fields) return Scan::invalid;
  auto ts_ms = parse_ts(row.ts);
  if (!ts_ms) return Scan::invalid;
  row.ts_ms = *ts_ms;
  return Scan::record;
}

std::optional<Record> record_from_line(std::string_view line, Row& row) {
  if (scan_row(line, row) != Scan::record) return std::nullopt;
  if (row.has_extra || row.exit_code != static_cast<int>(row.exit_code)) return parse_record(line);
  auto text = [](std::string_view view, bool present) {
    return present ? std::optional<std::string>(view) : std::nullopt;
  };
  Record r;
  r.ts_ms = row.ts_ms;
  r.user = row.user;
  r.workspace = row.workspace;
  r.session = row.session;
  r.command = row.command;
  r.language = text(row.language, row.has_language);
  r.code_sha256 = text(row.code_sha256, row.has_code_sha256);
  r.code_bytes = row.code_bytes;
  r.success = row.success;
  r.exit_code = static_cast<int>(row.exit_code);
  r.timed_out = row.timed_out;
  r.duration_ms = row.duration_ms;
  r.error = text(row.error, row.has_error);
  r.blocked = text(row.blocked, row.has_blocked);
  r.denied = text(row.denied, row.has_denied);
  r.prev = row.prev;
  r.hash = row.hash;
  return r;
}

std::string problem_text(const Row& row) {
  if (row.has_error) return std::string(row.error);
  if (row.has_blocked) return std::string("Blocked: ").append(row.blocked);
  if (row.has_denied) return std::string("Denied: ").append(row.denied);
  return "";
}

std::string_view hash_of_line(std::string_view line) {
  constexpr std::string_view member = ",\"hash\":\"";
  constexpr std::size_t tail = member.size() + 64 + 2; // the member, the hex, and `"}`
  if (line.size() < tail || !line.ends_with("\"}") || line.substr(line.size() - tail, member.size()) != member) return {};
  return line.substr(line.size() - 66, 64);
}

std::vector<std::string_view> split_chunks(std::string_view data) {
  std::size_t threads = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, k_max_threads);
  std::size_t count = std::clamp<std::size_t>(data.size() / k_min_chunk, 1, threads);
  std::vector<std::string_view> chunks;
  std::size_t start = 0;
  for (std::size_t i = 1; i < count && start < data.size(); ++i) {
    auto nl = data.find('\n', std::max(start, data.size() * i / count));
    if (nl == std::string_view::npos) break;
    chunks.push_back(data.substr(start, nl + 1 - start));
    start = nl + 1;
  }
  if (start < data.size()) chunks.push_back(data.substr(start));
  return chunks;
}

MappedFile::MappedFile(const std::filesystem::path& path) {
  auto fail = [&](const std::string& why) { throw Error(ExitCode::sandbox_setup, "audit log " + path.string(), why); };
  sys::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return;
    fail(std::strerror(errno));
  }
  // Writers hold LOCK_EX for a whole write, so the size seen under LOCK_SH ends at a record boundary.
  while (::flock(fd.get(), LOCK_SH) != 0)
    if (errno != EINTR) fail(std::string("lock: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(std::string("stat: ") + std::strerror(errno));
  ::flock(fd.get(), LOCK_UN);
  m_size = static_cast<std::size_t>(st.st_size);
  if (m_size == 0) return;
  void* data = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.get(), 0);
  if (data == MAP_FAILED) fail(std::string("mmap: ") + std::strerror(errno));
  m_data = static_cast<const char*>(data);
}

MappedFile::~MappedFile() {
  if (m_data != nullptr) ::munmap(const_cast<char*>(m_data), m_size);
}

} // namespace sandpit::audit
