// The sandboxes a killed `sandpit serve` left behind: found by their owner lock, recorded, and cleared when the next one starts.
#include "sandboxes.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/session/audit_trail.hpp"

#include <chrono>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>

namespace sandpit::serve {
namespace {

// A sandbox folder without its lock file is one being made right now, unless it is older than this.
constexpr auto k_making = std::chrono::seconds(60);

// Whether no server holds the sandbox in `dir`.
bool abandoned(const fs::path& dir) {
  sys::Fd lock(::open((dir / ".sandpit-serve.lock").c_str(), O_RDWR | O_CLOEXEC));
  if (lock.valid()) return ::flock(lock.get(), LOCK_EX | LOCK_NB) == 0;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return false;
  const auto age = std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(st.st_mtime);
  return age > k_making;
}

} // namespace

std::vector<std::string> sweep_leftover_sandboxes(const config::Config& config, const std::string& config_file) {
  std::vector<std::string> notices;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(state_home() / "serve" / "sandboxes", ec)) {
    if (!entry.is_directory() || !abandoned(entry.path())) continue;
    const auto id = entry.path().filename().string();
    try {
      auto workspace = Workspace::resolve(entry.path().string());
      if (auto c = session::Client::connect(workspace, config_file, session::Start::no)) {
        const pid_t pid = c->daemon_pid();
        try {
          c->call(session::protocol::RequestType::shutdown);
        } catch (const Error&) {
        }
        c.reset();
        wait_daemon_gone(workspace, pid);
      }
      for (const auto& notice : session::recover_lost(config, workspace)) notices.push_back(fmt::format("sandbox {}: {}", id, notice));
      fs::remove_all(workspace.state_dir, ec);
    } catch (const Error& e) {
      notices.push_back(fmt::format("sandbox {}: clearing it: {}: {}", id, e.subject(), e.reason()));
    }
    fs::remove_all(entry.path(), ec);
  }
  return notices;
}

} // namespace sandpit::serve
