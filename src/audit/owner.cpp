#include "sandpit/audit/owner.hpp"

#include "sandpit/sys/fd.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::audit {
namespace {

struct ProcStat {
  char state = '?';
  std::uint64_t start = 0;
};

// State (field 3) and start time (field 22) of /proc/PID/stat; nullopt when there is no such process.
std::optional<ProcStat> proc_stat(pid_t pid) {
  auto text = sys::read_file(fmt::format("/proc/{}/stat", pid));
  if (!text) return std::nullopt;
  // The command (field 2) is in parentheses and may hold anything: count from the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos || close + 2 >= text->size()) return std::nullopt;
  ProcStat out;
  out.state = (*text)[close + 2];
  std::size_t at = close + 2;
  for (int field = 3; field < 22; ++field) {
    at = text->find(' ', at);
    if (at == std::string::npos) return std::nullopt;
    ++at;
  }
  out.start = std::strtoull(text->c_str() + at, nullptr, 10);
  return out;
}

const std::string& boot_id() {
  static const std::string id = [] {
    auto text = sys::read_file("/proc/sys/kernel/random/boot_id");
    std::string s = text ? *text : std::string();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }();
  return id;
}

} // namespace

Owner Owner::self(std::string role) {
  Owner o;
  o.pid = ::getpid();
  o.start = proc_stat(o.pid).value_or(ProcStat{}).start;
  o.boot = boot_id();
  o.role = std::move(role);
  return o;
}

nlohmann::ordered_json Owner::to_json() const {
  return {{"pid", pid}, {"start", start}, {"boot", boot}, {"role", role}};
}

std::optional<Owner> Owner::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return std::nullopt;
  auto pid = j.find("pid");
  auto start = j.find("start");
  auto boot = j.find("boot");
  if (pid == j.end() || !pid->is_number_integer() || start == j.end() || !start->is_number_unsigned() || boot == j.end() ||
      !boot->is_string()) {
    return std::nullopt;
  }
  Owner o;
  o.pid = pid->get<pid_t>();
  o.start = start->get<std::uint64_t>();
  o.boot = boot->get<std::string>();
  o.role = j.value("role", std::string());
  return o;
}

bool Owner::alive() const {
  if (pid <= 0 || boot != boot_id()) return false;
  auto stat = proc_stat(pid);
  return stat && stat->start == start && stat->state != 'Z' && stat->state != 'X';
}

std::string Owner::describe() const {
  std::string who = role == "daemon" ? "the session daemon"
                  : role == "serve"  ? "sandpit serve"
                  : role == "mcp"    ? "sandpit mcp"
                                     : "the sandpit client";
  return fmt::format("{} (pid {})", who, pid);
}

} // namespace sandpit::audit
