#include "sandpit/files/files.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/util/strings.hpp"

#include <fmt/format.h>

namespace sandpit::files {

std::string SandboxPath::shown() const {
  std::string root = area == Area::workspace ? "/workspace" : "/persist";
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

} // namespace sandpit::files
