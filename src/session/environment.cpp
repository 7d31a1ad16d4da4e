#include "sandpit/session/profile.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace sandpit::session {
namespace {

bool valid_name(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

fs::path profile_path(const Workspace& workspace) { return workspace.state_dir / "profile.json"; }

} // namespace

void check_env(const std::map<std::string, std::string>& env) {
  for (const auto& [name, value] : env) {
    if (!valid_name(name)) throw Error(ExitCode::usage, "environment variable", fmt::format("'{}' is not a valid name", name));
    if (value.find('\0') != std::string::npos) throw Error(ExitCode::usage, "environment variable " + name, "its value contains a NUL byte");
  }
}

std::vector<std::string> with_env(std::vector<std::string> base, const std::map<std::string, std::string>& extra) {
  for (const auto& [name, value] : extra) {
    const auto prefix = name + "=";
    std::erase_if(base, [&](const std::string& entry) { return entry.rfind(prefix, 0) == 0; });
    base.push_back(prefix + value);
  }
  return base;
}

std::map<std::string, std::string> proxy_environment(const std::vector<std::string>& allow) {
  const auto url = fmt::format("http://127.0.0.1:{}", k_code_proxy_port);
  const bool loopback_allowed = std::any_of(allow.begin(), allow.end(), [](const std::string& rule) {
    return rule.rfind("127.", 0) == 0 || rule.rfind("[::1]", 0) == 0 || rule == "::1" || rule.rfind("localhost", 0) == 0;
  });
  const std::string bypass = loopback_allowed ? "" : "localhost,127.0.0.1,::1";
  return {{"HTTP_PROXY", url},         {"HTTPS_PROXY", url},          {"http_proxy", url},    {"https_proxy", url},
          {"npm_config_proxy", url},   {"npm_config_https_proxy", url}, {"PIP_PROXY", url}, {"NO_PROXY", bypass}, {"no_proxy", bypass}};
}

std::vector<std::string> sandbox_environment(const Profile& profile) {
  // Documented in docs/SECURITY.md and man/sandpit.1 (ENVIRONMENT INSIDE THE SANDBOX).
  std::vector<std::string> env = {
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "HOME=/workspace",
      "USER=sandbox",
      "LOGNAME=sandbox",
      "SHELL=/bin/bash",
      "LANG=C.UTF-8",
      "TERM=dumb",
      "TMPDIR=/tmp",
      "PYTHONUNBUFFERED=1",
      "PYTHONDONTWRITEBYTECODE=1",
      "MPLBACKEND=Agg",
      // Packages installed with --packages (pip --target), on every Python's path.
      "PYTHONPATH=/workspace/.sandpit/python",
      // matplotlib's font cache takes ~0.5 s to build: keep it where it outlives the session.
      "MPLCONFIGDIR=/workspace/.sandpit/matplotlib",
  };
  if (!profile.home.empty()) env = with_env(std::move(env), {{"HOME", profile.home}});
  if (!profile.user_name.empty()) env = with_env(std::move(env), {{"USER", profile.user_name}, {"LOGNAME", profile.user_name}});
  return profile.env.empty() ? env : with_env(std::move(env), profile.env);
}

Profile load_profile(const Workspace& workspace) {
  const auto path = profile_path(workspace);
  auto text = sys::read_file(path.string());
  if (!text) {
    if (text.failure().err == ENOENT) return {};
    throw Error(ExitCode::sandbox_setup, "read " + path.string(), text.failure().message());
  }
  auto json = nlohmann::json::parse(*text, nullptr, false);
  Profile p;
  try {
    if (!json.is_object()) throw std::runtime_error("not a JSON object");
    p.env = json.value("env", std::map<std::string, std::string>{});
    p.home = json.value("home", std::string());
    p.user_name = json.value("user_name", std::string());
  } catch (const std::exception& e) {
    throw Error(ExitCode::sandbox_setup, path.string(), fmt::format("not a sandbox profile ({})", e.what()));
  }
  check_env(p.env);
  if (!p.home.empty() && (p.home.front() != '/' || p.home.find("..") != std::string::npos)) {
    throw Error(ExitCode::sandbox_setup, path.string(), "'home' must be an absolute path");
  }
  return p;
}

void save_profile(const Workspace& workspace, const Profile& profile) {
  check_env(profile.env);
  nlohmann::json json = {{"env", profile.env}, {"home", profile.home}, {"user_name", profile.user_name}};
  const auto path = profile_path(workspace);
  const auto tmp = path.string() + ".tmp";
  sys::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) throw Error(ExitCode::sandbox_setup, "create " + tmp, std::strerror(errno));
  if (auto r = sys::write_all(fd.get(), json.dump() + "\n"); !r) throw Error(ExitCode::sandbox_setup, "write " + tmp, r.failure().message());
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw Error(ExitCode::sandbox_setup, "rename " + tmp, std::strerror(errno));
}

} // namespace sandpit::session
