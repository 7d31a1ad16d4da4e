#include "sandpit/audit/record.hpp"

#include "sandpit/audit/owner.hpp"
#include "sandpit/audit/time.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/util/strings.hpp"

#include <array>

namespace sandpit::audit {

namespace {

using ojson = nlohmann::ordered_json;

constexpr std::array<std::string_view, 17> k_fixed_fields = {
    "ts",         "user",    "workspace", "session",   "command",     "language", "code_sha256", "code_bytes", "success",
    "exit_code",  "timed_out", "duration_ms", "error", "blocked", "denied", "prev", "hash"};

bool is_fixed_field(std::string_view key) {
  for (auto field : k_fixed_fields)
    if (key == field) return true;
  return false;
}

ojson nullable(const std::optional<std::string>& value) {
  return value ? ojson(*value) : ojson(nullptr);
}

std::string capped_error(const std::string& error) {
  if (error.size() <= k_max_error_bytes) return error;
  std::string_view head(error.data(), k_max_error_bytes - 3);
  return std::string(head.substr(0, strings::complete_utf8_prefix(head))) + "...";
}

// Reads one member of a parsed line into a Record field; clears `ok` on a missing or mistyped member.
class Fields {
public:
  explicit Fields(const ojson& object) : m_object(object) {}
  bool ok() const { return m_ok; }

  void get(const char* key, std::string& out) {
    auto it = m_object.find(key);
    if (it == m_object.end() || !it->is_string()) m_ok = false;
    else out = it->get<std::string>();
  }
  void get(const char* key, std::optional<std::string>& out) {
    auto it = m_object.find(key);
    if (it == m_object.end() || !(it->is_string() || it->is_null())) m_ok = false;
    else if (it->is_string()) out = it->get<std::string>();
  }
  template <typename Int> void get_int(const char* key, Int& out) {
    auto it = m_object.find(key);
    if (it == m_object.end() || !it->is_number_integer()) m_ok = false;
    else out = it->get<Int>();
  }
  void get(const char* key, bool& out) {
    auto it = m_object.find(key);
    if (it == m_object.end() || !it->is_boolean()) m_ok = false;
    else out = it->get<bool>();
  }

private:
  const ojson& m_object;
  bool m_ok = true;
};

} // namespace

Sealed seal(const Record& record, std::string_view prev) {
  if (!record.extra.is_object())
    throw Error(ExitCode::sandbox_setup, "audit record", "extra fields must be a JSON object");
  ojson j;
  j["ts"] = format_ts(record.ts_ms);
  j["user"] = record.user;
  j["workspace"] = record.workspace;
  j["session"] = record.session;
  j["command"] = record.command;
  j["language"] = nullable(record.language);
  j["code_sha256"] = nullable(record.code_sha256);
  j["code_bytes"] = record.code_bytes;
  j["success"] = record.success;
  j["exit_code"] = record.exit_code;
  j["timed_out"] = record.timed_out;
  j["duration_ms"] = record.duration_ms;
  j["error"] = record.error ? ojson(capped_error(*record.error)) : ojson(nullptr);
  j["blocked"] = nullable(record.blocked);
  j["denied"] = nullable(record.denied);
  for (const auto& [key, value] : record.extra.items()) {
    if (is_fixed_field(key))
      throw Error(ExitCode::sandbox_setup, "audit record", "extra field \"" + key + "\" repeats a fixed field");
    j[key] = value;
  }
  j["prev"] = std::string(prev);
  // Invalid UTF-8 (e.g. from the sandboxed code's stderr) becomes U+FFFD rather than an exception.
  std::string body = j.dump(-1, ' ', false, ojson::error_handler_t::replace);
  Sealed sealed{body, sha256_hex(body)};
  sealed.line.pop_back(); // the final '}'
  sealed.line += ",\"hash\":\"" + sealed.hash + "\"}\n";
  return sealed;
}

std::optional<Record> parse_record(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  auto j = ojson::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  Record r;
  std::string ts;
  Fields f(j);
  f.get("ts", ts);
  f.get("user", r.user);
  f.get("workspace", r.workspace);
  f.get("session", r.session);
  f.get("command", r.command);
  f.get("language", r.language);
  f.get("code_sha256", r.code_sha256);
  f.get_int("code_bytes", r.code_bytes);
  f.get("success", r.success);
  f.get_int("exit_code", r.exit_code);
  f.get("timed_out", r.timed_out);
  f.get_int("duration_ms", r.duration_ms);
  f.get("error", r.error);
  f.get("blocked", r.blocked);
  f.get("denied", r.denied);
  f.get("prev", r.prev);
  f.get("hash", r.hash);
  auto ts_ms = parse_ts(ts);
  if (!f.ok() || !ts_ms) return std::nullopt;
  r.ts_ms = *ts_ms;
  for (auto& [key, value] : j.items())
    if (!is_fixed_field(key)) r.extra[key] = std::move(value);
  return r;
}

bool is_intent(const Record& record) {
  auto it = record.extra.find("phase");
  return it != record.extra.end() && it->is_string() && it->get<std::string>() == k_phase_intent;
}

std::string completes(const Record& record) {
  auto it = record.extra.find("intent");
  return it != record.extra.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string problem_text(const Record& record) {
  if (record.unfinished == Unfinished::interrupted) {
    auto owner = record.extra.contains("owner") ? Owner::from_json(record.extra["owner"]) : std::nullopt;
    return "Interrupted: no outcome was recorded; " + (owner ? owner->describe() : std::string("its process")) + " is gone";
  }
  if (record.error) return *record.error;
  if (record.blocked) return "Blocked: " + *record.blocked;
  if (record.denied) return "Denied: " + *record.denied;
  return "";
}

} // namespace sandpit::audit
