#include "sandpit/files/files.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/util/strings.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace sandpit::files {

std::string SandboxPath::shown() const {
  std::string root = area == Area::workspace ? "/workspace" : area == Area::persist ? "/persist" : "/tmp";
  return relative.empty() ? root : root + "/" + relative;
}

SandboxPath SandboxPath::child(std::string_view name) const {
  SandboxPath out = *this;
  out.relative = relative.empty() ? std::string(name) : relative + "/" + std::string(name);
  return out;
}

std::string SandboxPath::name() const {
  auto slash = relative.rfind('/');
  return slash == std::string::npos ? relative : relative.substr(slash + 1);
}

SandboxPath parse_sandbox_path(std::string_view text) {
  const std::string shown(text);
  if (text.empty()) throw Error(ExitCode::usage, "sandbox path", "empty");
  // A NUL would end the name where the kernel reads it: another file than the one shown.
  if (text.find('\0') != std::string_view::npos) throw Error(ExitCode::usage, "sandbox path", "contains a NUL byte");
  auto parts = strings::split(text, '/');
  SandboxPath out;
  std::size_t first = 0;
  if (text.front() == '/') {
    // "/workspace/..." or "/persist/...": find the area, then the rest is relative to it.
    std::size_t i = 0;
    while (i < parts.size() && (parts[i].empty() || parts[i] == ".")) ++i;
    if (i == parts.size() || (parts[i] != "workspace" && parts[i] != "persist")) {
      throw Error(ExitCode::usage, shown, "outside the sandbox's files (use a path under /workspace or /persist)");
    }
    out.area = parts[i] == "workspace" ? Area::workspace : Area::persist;
    first = i + 1;
  }
  std::vector<std::string> kept;
  for (std::size_t i = first; i < parts.size(); ++i) {
    const auto& part = parts[i];
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (kept.empty()) {
        throw Error(ExitCode::usage, shown, fmt::format("leaves {} ('..' above its root)", out.area == Area::workspace ? "/workspace" : "/persist"));
      }
      kept.pop_back();
      continue;
    }
    kept.push_back(part);
  }
  out.relative = strings::join(kept, "/");
  return out;
}

HomePath resolve_home_path(std::string_view text, std::string_view home) {
  const std::string given(text);
  if (given.find('\0') != std::string::npos) throw FileError(Problem::invalid, ExitCode::usage, "sandbox path", "contains a NUL byte");
  std::string absolute;
  if (given.empty() || given == "~") {
    absolute = home;
  } else if (given.rfind("~/", 0) == 0) {
    absolute = std::string(home) + given.substr(1);
  } else if (given.front() == '~') {
    throw FileError(Problem::invalid, ExitCode::usage, given, "cannot expand user-specific home dir");
  } else if (given.front() == '/') {
    absolute = given;
  } else {
    absolute = std::string(home) + "/" + given;
  }
  // Normalised lexically, as the sandbox sees it: ".." never climbs above "/".
  std::vector<std::string> kept;
  for (const auto& part : strings::split(absolute, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(part);
  }
  const std::string normal = "/" + strings::join(kept, "/");
  const auto home_parts = strings::split(std::string(home).substr(1), '/');
  struct Mount {
    std::vector<std::string> prefix;
    Area area;
  };
  const Mount mounts[] = {{home_parts, Area::workspace}, {{"workspace"}, Area::workspace}, {{"persist"}, Area::persist}, {{"tmp"}, Area::tmp}};
  for (const auto& m : mounts) {
    if (m.prefix.empty() || kept.size() < m.prefix.size() || !std::equal(m.prefix.begin(), m.prefix.end(), kept.begin())) continue;
    std::vector<std::string> rest(kept.begin() + static_cast<long>(m.prefix.size()), kept.end());
    return {SandboxPath{m.area, strings::join(rest, "/")}, normal};
  }
  throw FileError(Problem::denied, ExitCode::denied, normal,
                  fmt::format("permission denied: only {}, /tmp and /persist can be reached through the file API (the rest of the sandbox is read-only)", home));
}

} // namespace sandpit::files
