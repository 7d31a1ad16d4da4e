// The install step: what an execution's `packages` ask for, installed in the sandbox (pip or npm, as its own
// process, through an egress proxy that reaches only the package index) before the code runs.
#include "sandpit/session/session.hpp"

#include "channels.hpp"
#include "result.hpp"
#include "run_loop.hpp"

#include "sandpit/audit/record.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/files/ops.hpp"
#include "sandpit/jail/net.hpp"
#include "sandpit/session/admission.hpp"
#include "sandpit/session/packages.hpp"
#include "sandpit/sys/fd.hpp"

#include <algorithm>
#include <fcntl.h>
#include <set>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

namespace sandpit::session {
namespace {

using Clock = std::chrono::steady_clock;

// The port of the installer's proxy on the jail's loopback; listening only while an install runs.
constexpr std::uint16_t k_install_proxy_port = 3129;

// Installer output goes to the client's stderr, as it comes.
class ToStderr final : public OutputSink {
public:
  explicit ToStderr(OutputSink& sink) : m_sink(sink) {}
  void on_stdout(std::string_view data) override { m_sink.on_stderr(data); }
  void on_stderr(std::string_view data) override { m_sink.on_stderr(data); }

private:
  OutputSink& m_sink;
};

std::map<std::string, std::vector<std::string>> dist_infos(const files::Roots& roots);

// name -> version of what is installed: pip's *.dist-info folders, or npm's node_modules/<name>/package.json.
std::map<std::string, std::string> installed(const files::Roots& roots, Installer installer, const std::vector<PackageSpec>& specs) {
  std::map<std::string, std::string> out;
  if (installer == Installer::pip) {
    for (const auto& [name, folders] : dist_infos(roots)) {
      const auto& n = folders.back();
      const auto stem = n.substr(0, n.size() - 10);
      out[name] = stem.substr(stem.find('-') + 1);
    }
    return out;
  }
  for (const auto& spec : specs) {
    try {
      auto opened = files::open_for_download(roots, files::SandboxPath{files::Area::workspace, "node_modules/" + spec.name + "/package.json"});
      if (opened.size > (1u << 20)) continue;
      std::string text(opened.size, '\0');
      if (::pread(opened.fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) continue;
      auto json = nlohmann::json::parse(text, nullptr, false);
      if (json.is_object() && json.contains("version") && json["version"].is_string()) out[spec.name] = json["version"].get<std::string>();
    } catch (const Error&) {
    }
  }
  return out;
}

// The *.dist-info folders in the pip target, by the normalized name of their package.
std::map<std::string, std::vector<std::string>> dist_infos(const files::Roots& roots) {
  std::map<std::string, std::vector<std::string>> out;
  try {
    for (const auto& e : files::list_dir(roots, files::SandboxPath{files::Area::workspace, k_python_packages_relative}, 1)) {
      const auto& n = e.name;
      if (!S_ISDIR(e.st.st_mode) || n.size() < 11 || n.compare(n.size() - 10, 10, ".dist-info") != 0) continue;
      const auto dash = n.find('-');
      if (dash == std::string::npos) continue;
      out[parse_packages(Installer::pip, {n.substr(0, dash)}).at(0).name].push_back(n);
    }
  } catch (const Error&) {
    // nothing installed yet
  }
  return out;
}

// The paths a dist-info's RECORD lists, relative to the target; none that leaves it.
std::set<std::string> record_paths(const files::Roots& roots, const std::string& dist_info) {
  std::set<std::string> out;
  try {
    auto opened = files::open_for_download(roots, files::SandboxPath{files::Area::workspace, std::string(k_python_packages_relative) + "/" + dist_info + "/RECORD"});
    if (opened.size > (8u << 20)) return out;
    std::string text(opened.size, '\0');
    if (::pread(opened.fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) return out;
    std::size_t start = 0;
    while (start < text.size()) {
      auto end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      auto line = text.substr(start, end - start);
      start = end + 1;
      auto path = line.substr(0, line.find(','));
      if (path.size() > 1 && path.front() == '"') continue; // quoted (a comma in the name): leave it
      if (path.empty() || path.front() == '/' || path.find("..") != std::string::npos) continue;
      out.insert(path);
    }
  } catch (const Error&) {
  }
  return out;
}

// pip --target replaces a package's files but keeps the old version's dist-info (and files only the old
// version had): remove those, so that what is installed is what metadata says.
void prune_replaced(const files::Roots& roots, const std::map<std::string, std::vector<std::string>>& before) {
  for (const auto& [name, now] : dist_infos(roots)) {
    auto was = before.find(name);
    if (was == before.end() || now.size() < 2) continue;
    std::vector<std::string> fresh, stale;
    for (const auto& d : now) (std::find(was->second.begin(), was->second.end(), d) == was->second.end() ? fresh : stale).push_back(d);
    if (fresh.size() != 1) continue;
    const auto keep = record_paths(roots, fresh[0]);
    for (const auto& old : stale) {
      for (const auto& path : record_paths(roots, old)) {
        if (keep.count(path) || path.rfind(old + "/", 0) == 0) continue;
        try {
          files::remove_entry(roots, files::SandboxPath{files::Area::workspace, std::string(k_python_packages_relative) + "/" + path});
        } catch (const Error&) {
        }
      }
      try {
        files::remove_entry(roots, files::SandboxPath{files::Area::workspace, std::string(k_python_packages_relative) + "/" + old});
      } catch (const Error&) {
      }
    }
  }
}

std::vector<std::string> installer_argv(const config::Config& config, Installer installer, const std::vector<PackageSpec>& missing) {
  std::vector<std::string> argv;
  if (installer == Installer::pip) {
    argv = {"/usr/bin/python3", "-m", "pip", "install", "--no-input", "--disable-pip-version-check", "--no-warn-script-location",
            "--progress-bar", "off", "--target", k_python_packages, "--upgrade"};
    if (!config.packages.allow_builds) argv.insert(argv.end(), {"--only-binary", ":all:"});
    if (!config.packages.python_index.empty()) argv.insert(argv.end(), {"--index-url", config.packages.python_index});
    else if (!config.packages.python_find_links.empty()) argv.push_back("--no-index");
    for (const auto& dir : config.packages.python_find_links) argv.insert(argv.end(), {"--find-links", dir});
  } else {
    argv = {"/usr/bin/npm", "install", "--no-save", "--no-audit", "--no-fund", "--no-update-notifier", "--prefix", k_npm_prefix};
    if (!config.packages.allow_builds) argv.push_back("--ignore-scripts");
    if (!config.packages.npm_registry.empty()) argv.insert(argv.end(), {"--registry", config.packages.npm_registry});
  }
  for (const auto& spec : missing) argv.push_back(spec.text);
  return argv;
}

std::map<std::string, std::string> installer_env(Installer installer) {
  const auto proxy = fmt::format("http://127.0.0.1:{}", k_install_proxy_port);
  std::map<std::string, std::string> env = {{"HTTP_PROXY", proxy}, {"HTTPS_PROXY", proxy}, {"http_proxy", proxy}, {"https_proxy", proxy},
                                            {"NO_PROXY", ""},     {"no_proxy", ""}};
  if (installer == Installer::pip) {
    env["PIP_CACHE_DIR"] = "/tmp/.sandpit-pip-cache";
    // pip unpacks in TMPDIR: on the workspace, whose quota is larger than /tmp's.
    env["TMPDIR"] = "/workspace/.sandpit/tmp";
  } else {
    env["npm_config_proxy"] = proxy;
    env["npm_config_https_proxy"] = proxy;
    env["npm_config_cache"] = "/tmp/.sandpit-npm-cache";
  }
  return env;
}

// The last non-empty lines of the installer's output: what to say when it failed.
std::string tail_lines(const std::string& text, std::size_t count) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    auto line = text.substr(start, end - start);
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
    start = end + 1;
  }
  if (lines.size() > count) lines.erase(lines.begin(), lines.end() - static_cast<long>(count));
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}

} // namespace

bool Session::install(const ExecRequest& request, OutputSink& sink, Canceller* canceller, ExecResult& result) {
  const auto installer = installer_for(request.language);
  auto fail = [&](const std::string& name, const std::string& why, int code = 1) {
    result.exit_code = code;
    result.timed_out = code == 124;
    result.error = ErrorInfo{name, why, ""};
    return false;
  };
  if (!installer) return fail("InstallError", "bash has no package installer: install with pip (Python) or npm (JavaScript)");
  const auto specs = parse_packages(*installer, request.packages);
  for (const auto& spec : specs) {
    if (auto refusal = package_refusal(m_config, spec)) return fail("PolicyError", "refused by policy: " + *refusal, 3);
  }
  const auto roots = open_roots();
  auto have = installed(roots, *installer, specs);
  std::vector<PackageSpec> missing;
  for (const auto& spec : specs) {
    auto it = have.find(spec.name);
    if (it == have.end() || (!spec.version.empty() && it->second != spec.version)) missing.push_back(spec);
  }
  if (!missing.empty()) {
    const auto before = *installer == Installer::pip ? dist_infos(roots) : std::map<std::string, std::vector<std::string>>{};
    (void)files::make_dir(roots, files::SandboxPath{files::Area::workspace, ".sandpit/tmp"});
    // Reaches the package index only, and only while the installer runs.
    std::vector<std::string> rules = index_hosts(m_config, *installer);
    auto listener = jail::listen_inside(m_jail->init_pid(), k_install_proxy_port);
    if (!listener) return fail("InstallError", "the installer's proxy could not start: " + listener.failure().message(), 125);
    proxy::Options options;
    options.allow = proxy::AllowList::parse(rules);
    options.channel = "install";
    options.on_close = [this](const proxy::Connection& c) { audit_connection(c); };
    proxy::Proxy index_proxy(std::move(listener).value(), std::move(options));
    ExecResult scratch;
    ToStderr to_stderr(sink);
    auto channels = make_channels(request.language, false);
    auto spawn = spawn_request(installer_argv(m_config, *installer, missing), channels, -1, "/workspace");
    spawn.fds.pop_back(); // no fd 3
    spawn.env = with_env(std::move(spawn.env), installer_env(*installer));
    auto pid = m_jail->spawn(spawn);
    if (!pid) return fail("InstallError", "the installer could not start: " + pid.failure().message(), 125);
    keep_host_ends(channels);
    const auto started = Clock::now();
    auto outcome = run_loop(*m_jail, *pid, {channels.out.first.get(), channels.err.first.get(), -1, {}, {}, false}, {false, false, false},
                            started + request.timeout, m_config.limits.output, to_stderr, canceller, scratch);
    result.stderr_text += scratch.stdout_text + scratch.stderr_text;
    if (outcome.timed_out) return fail("Timeout", fmt::format("installing {} took longer than the execution's timeout", request.packages.size() == 1 ? request.packages[0] : "the packages"), 124);
    if (outcome.interrupted) return fail("KeyboardInterrupt", "the install was interrupted");
    const int status = outcome.wait_status ? status_code(*outcome.wait_status) : 1;
    if (status != 0) {
      const char* tool = *installer == Installer::pip ? "pip" : "npm";
      return fail("InstallError", fmt::format("{} exited with status {}: {}", tool, status, tail_lines(scratch.stderr_text + scratch.stdout_text, 3)));
    }
    if (*installer == Installer::pip) prune_replaced(roots, before);
    have = installed(roots, *installer, specs);
  }
  for (const auto& spec : specs) {
    const bool cached = std::none_of(missing.begin(), missing.end(), [&](const PackageSpec& m) { return m.name == spec.name; });
    auto it = have.find(spec.name);
    result.packages_installed.push_back({{"name", spec.name}, {"version", it == have.end() ? "" : it->second}, {"cached", cached}});
  }
  return true;
}

} // namespace sandpit::session
