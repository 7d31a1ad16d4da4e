#include "sandpit/audit/inflight.hpp"

#include "sandpit/audit/time.hpp"
#include "sandpit/sys/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace sandpit::audit {
namespace {

using ojson = nlohmann::ordered_json;

bool is_hash_name(std::string_view name) {
  return name.size() == k_genesis.size() &&
         std::all_of(name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// mkdir -p with mode 0700 for each folder made.
void make_dirs(const std::filesystem::path& dir) {
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    (void)::mkdir(partial.c_str(), 0700);
  }
}

} // namespace

Record interrupted_outcome(const Record& intent, const Owner& owner) {
  Record r;
  r.user = intent.user;
  r.workspace = intent.workspace;
  r.session = intent.session;
  r.command = intent.command;
  r.language = intent.language;
  r.code_sha256 = intent.code_sha256;
  r.code_bytes = intent.code_bytes;
  r.success = false;
  r.exit_code = 125;
  r.error = "Interrupted: " + owner.describe() + " died before it ended";
  for (const auto& [key, value] : intent.extra.items())
    if (key != "phase" && key != "owner") r.extra[key] = value;
  r.extra["intent"] = intent.hash;
  r.extra["interrupted"] = owner.describe() + " died";
  r.extra["started"] = format_ts(intent.ts_ms);
  return r;
}

void InFlight::add(std::string_view hash, const std::filesystem::path& log, std::uint64_t offset, std::string_view line) const {
  const auto path = m_dir / std::string(hash);
  constexpr int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  sys::Fd fd(::open(path.c_str(), flags, 0600));
  if (!fd.valid() && errno == ENOENT) {
    make_dirs(m_dir);
    fd.reset(::open(path.c_str(), flags, 0600));
  }
  if (!fd.valid()) return;
  const ojson marker = {{"log", log.string()}, {"offset", offset}, {"line", line}};
  if (!sys::write_all(fd.get(), marker.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n")) ::unlink(path.c_str());
}

void InFlight::remove(std::string_view hash) const { ::unlink((m_dir / std::string(hash)).c_str()); }

std::vector<Lost> InFlight::recover(Log& log) const {
  std::vector<Lost> lost;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(m_dir.c_str()), ::closedir);
  if (!dir) return lost;
  std::vector<std::string> names;
  while (auto* entry = ::readdir(dir.get()))
    if (is_hash_name(entry->d_name)) names.emplace_back(entry->d_name);
  for (const auto& name : names) {
    auto text = sys::read_file((m_dir / name).string());
    if (!text) continue;
    auto marker = nlohmann::json::parse(*text, nullptr, false);
    if (!marker.is_object() || marker.value("log", std::string()) != log.path().string()) continue;
    const auto line = marker.value("line", std::string());
    auto intent = parse_record(line);
    auto owner = intent && intent->extra.contains("owner") ? Owner::from_json(intent->extra["owner"]) : std::nullopt;
    if (!intent || !owner || intent->hash != name) {
      remove(name); // not a marker we wrote
      continue;
    }
    if (owner->alive()) continue;
    const auto offset = marker.value("offset", std::uint64_t{0});
    if (log.append_once(interrupted_outcome(*intent, *owner), name, line, offset)) {
      lost.push_back({std::move(*intent), *owner, log.last_torn_line()});
    }
    remove(name);
  }
  std::sort(lost.begin(), lost.end(), [](const Lost& a, const Lost& b) { return a.intent.ts_ms < b.intent.ts_ms; });
  return lost;
}

} // namespace sandpit::audit
