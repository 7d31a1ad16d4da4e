#include "sandpit/util/fault.hpp"

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

namespace sandpit::fault {
namespace {

std::atomic<Role> g_role{Role::client};

} // namespace

void set_role(Role role) { g_role = role; }
Role role() { return g_role; }

std::string_view name_of(Role role) {
  switch (role) {
  case Role::client: return "client";
  case Role::daemon: return "daemon";
  case Role::serve: return "serve";
  case Role::mcp: return "mcp";
  }
  return "client";
}

[[noreturn]] void die() {
  ::kill(::getpid(), SIGKILL);
  ::_exit(137); // not reached
}

#ifdef SANDPIT_FAULT_INJECTION

namespace {

struct Fault {
  std::string victim;
  std::string point;
  unsigned nth = 1;
};

// The system config (config.cpp's k_system_config): once it exists, the installation is a shared one whose
// rules bind its users, and SANDPIT_FAULT is ignored, as SANDPIT_SYSTEM_CONFIG is.
constexpr const char* k_system_config = "/etc/sandpit/config.toml";

// SANDPIT_FAULT, parsed once; malformed entries are ignored (this is a test seam, not an interface).
class Faults {
public:
  Faults() {
    const char* env = std::getenv("SANDPIT_FAULT");
    if (env == nullptr || ::access(k_system_config, F_OK) == 0) return;
    std::string_view text(env);
    while (!text.empty()) {
      auto comma = text.find(',');
      parse(text.substr(0, comma));
      text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    }
  }

  bool empty() const { return m_faults.empty(); }

  // The fault due at this arrival at `point`, if any.
  const Fault* arrive(std::string_view point) {
    std::lock_guard lock(m_mutex);
    unsigned n = ++m_counts[std::string(point)];
    for (const auto& f : m_faults)
      if (f.point == point && f.nth == n) return &f;
    return nullptr;
  }

private:
  void parse(std::string_view entry) {
    auto colon = entry.find(':');
    if (colon == std::string_view::npos) return;
    Fault f{std::string(entry.substr(0, colon)), std::string(entry.substr(colon + 1)), 1};
    if (auto at = f.point.find('@'); at != std::string::npos) {
      f.nth = static_cast<unsigned>(std::strtoul(f.point.c_str() + at + 1, nullptr, 10));
      f.point.resize(at);
    }
    if (f.nth > 0) m_faults.push_back(std::move(f));
  }

  std::vector<Fault> m_faults;
  std::mutex m_mutex;
  std::map<std::string, unsigned, std::less<>> m_counts;
};

Faults& faults() {
  static Faults f;
  return f;
}

} // namespace

void reached(std::string_view point, pid_t init_pid) {
  auto& all = faults();
  if (all.empty()) return;
  const Fault* f = all.arrive(point);
  if (f == nullptr) return;
  if (f->victim == name_of(role())) die();
  if (f->victim == "init" && init_pid > 0) ::kill(init_pid, SIGKILL);
}

bool armed(std::string_view point) {
  auto& all = faults();
  if (all.empty()) return false;
  const Fault* f = all.arrive(point);
  return f != nullptr && f->victim == name_of(role());
}

#endif

} // namespace sandpit::fault
