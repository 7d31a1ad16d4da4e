#include "sandpit/core/paths.hpp"

#include "sandpit/core/error.hpp"

#include <cstdlib>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sandpit {
namespace {

fs::path home_dir() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') return home;
  throw Error(ExitCode::usage, "home directory", "HOME is not set (set HOME or XDG_STATE_HOME)");
}

fs::path xdg_dir(const char* variable, const char* fallback) {
  if (const char* value = std::getenv(variable); value != nullptr && *value == '/') return fs::path(value) / "sandpit";
  return home_dir() / fallback / "sandpit";
}

// FNV-1a: a stable, dependency-free name for a path (not a security boundary).
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

void make_private_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ExitCode::sandbox_setup, "create " + dir.string(), ec.message());
  ::chmod(dir.c_str(), 0700);
}

} // namespace

fs::path state_home() { return xdg_dir("XDG_STATE_HOME", ".local/state"); }
fs::path config_home() { return xdg_dir("XDG_CONFIG_HOME", ".config"); }

Workspace Workspace::resolve(const std::string& dir) {
  std::string chosen = dir;
  if (chosen.empty()) {
    const char* env = std::getenv("SANDPIT_WORKSPACE");
    chosen = (env != nullptr && *env != '\0') ? env : ".";
  }
  std::error_code ec;
  fs::path canonical = fs::canonical(chosen, ec);
  if (ec) throw Error(ExitCode::usage, "workspace " + chosen, ec.message());
  if (!fs::is_directory(canonical)) throw Error(ExitCode::usage, "workspace " + chosen, "not a directory");
  Workspace ws;
  ws.host_dir = canonical;
  std::string base = canonical.filename().string();
  if (base.empty()) base = "root";
  ws.id = fmt::format("{}-{:08x}", base, static_cast<std::uint32_t>(fnv1a(canonical.string())));
  ws.state_dir = state_home() / "workspaces" / ws.id;
  ws.files_dir = ws.state_dir / "files";
  return ws;
}

fs::path persist_dir() { return state_home() / "persist"; }

void ensure_persist_dir() {
  make_private_dir(state_home());
  std::error_code ec;
  fs::create_directory(persist_dir(), ec);
  if (ec) throw Error(ExitCode::sandbox_setup, "create " + persist_dir().string(), ec.message());
  fs::permissions(persist_dir(), fs::perms::owner_all, ec);
}

void Workspace::ensure_created() const {
  make_private_dir(state_dir);
  std::error_code ec;
  fs::create_directories(files_dir, ec);
  if (ec) throw Error(ExitCode::sandbox_setup, "create " + files_dir.string(), ec.message());
}

} // namespace sandpit
