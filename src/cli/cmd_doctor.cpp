// `sandpit doctor`: which isolation layers and limits are active on this host, and why any is missing.
#include "commands.hpp"

#include "sandpit/files/quota.hpp"
#include "sandpit/util/strings.hpp"
#include "sandpit/util/terminal.hpp"
#include "sandpit/util/units.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/jail/seccomp.hpp"
#include "sandpit/session/session.hpp"
#include "sandpit/sys/fd.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sstream>
#include <sys/utsname.h>
#include <unistd.h>

namespace sandpit::cli {
namespace {

using nlohmann::json;

// ok: active; warn: degraded or not installed, runs still isolated; fail: the jail is not what it should be.
enum class Status { ok, warn, fail };

struct Check {
  std::string layer;
  Status status;
  std::string detail;
};

constexpr std::string_view label(Status s) { return s == Status::ok ? "ok" : s == Status::warn ? "warn" : "FAIL"; }
Status pass_or(bool ok, Status otherwise = Status::fail) { return ok ? Status::ok : otherwise; }

class Quiet final : public session::OutputSink {
public:
  void on_stdout(std::string_view) override {}
  void on_stderr(std::string_view) override {}
};

std::string status_field(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      auto value = line.substr(key.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "?";
}

void check_namespaces(std::vector<Check>& checks, pid_t init, bool network) {
  for (const char* ns : {"user", "pid", "mnt", "net", "ipc", "uts", "cgroup"}) {
    char mine[64] = {}, theirs[64] = {};
    auto a = ::readlink(fmt::format("/proc/self/ns/{}", ns).c_str(), mine, sizeof mine - 1);
    auto b = ::readlink(fmt::format("/proc/{}/ns/{}", init, ns).c_str(), theirs, sizeof theirs - 1);
    bool isolated = a > 0 && b > 0 && std::string(mine) != std::string(theirs);
    std::string detail = isolated ? "private" : "shared with the host";
    if (std::string(ns) == "net" && network) detail += " (network.enabled = true)";
    if (std::string(ns) == "cgroup" && !isolated && b <= 0) detail = "could not be read";
    bool by_config = std::string(ns) == "net" && network;
    checks.push_back({std::string(ns) + " namespace", pass_or(isolated, by_config ? Status::warn : Status::fail), detail});
  }
}

void check_privileges(std::vector<Check>& checks, pid_t init) {
  auto read = sys::read_file(fmt::format("/proc/{}/status", init));
  std::string status = read ? *read : std::string();
  checks.push_back({"seccomp", pass_or(status_field(status, "Seccomp") == "2"),
                    fmt::format("filter mode {}, {} syscalls denied, foreign architectures killed",
                                status_field(status, "Seccomp"), jail::denied_syscalls().size())});
  checks.push_back({"no_new_privs", pass_or(status_field(status, "NoNewPrivs") == "1"), "NoNewPrivs " + status_field(status, "NoNewPrivs")});
  bool no_caps = status_field(status, "CapEff") == "0000000000000000" && status_field(status, "CapBnd") == "0000000000000000";
  checks.push_back({"capabilities", pass_or(no_caps), fmt::format("effective {}, bounding {}", status_field(status, "CapEff"), status_field(status, "CapBnd"))});
}

// Which cgroup holds the jails (and who delegated it), and why the ways tried before it were not taken.
Check limits_check(const jail::LimitMechanism& limits) {
  if (limits.cgroup.empty()) {
    return {"limits", Status::warn, "rlimits only (memory by RLIMIT_DATA, pids by RLIMIT_NPROC): " + limits.why_not};
  }
  std::string detail = limits.how + ": memory, pids, cpu; rlimits: open files, file size, core";
  if (!limits.why_not.empty()) detail += " (not " + limits.why_not + ")";
  return {"limits", Status::ok, detail};
}

void check_interpreters(std::vector<Check>& checks, session::Session& session) {
  const std::pair<kernels::Language, const char*> probes[] = {
      {kernels::Language::python, "import sys; print(sys.version.split()[0])"},
      {kernels::Language::javascript, "console.log(process.version)"},
      // Prints the transpiler's version; a missing esbuild fails the cell with its fix.
      {kernels::Language::typescript, "const v: string = require('child_process').execFileSync('/usr/bin/esbuild', ['--version'], "
                                      "{encoding: 'utf8'}); console.log('esbuild ' + v.trim())"},
      {kernels::Language::bash, "echo $BASH_VERSION"}};
  Quiet quiet;
  for (const auto& [language, code] : probes) {
    session::ExecRequest request;
    request.language = language;
    request.code = code;
    request.filename = "<doctor>";
    request.timeout = std::chrono::seconds(20);
    std::string name(kernels::name_of(language));
    try {
      auto r = session.execute(request, quiet);
      auto version = r.stdout_text.substr(0, r.stdout_text.find('\n'));
      checks.push_back({name, pass_or(r.success, Status::warn), r.success ? version : (r.error ? r.error->value : r.stderr_text)});
    } catch (const Error& e) {
      checks.push_back({name, Status::warn, e.reason()});
    }
  }
}

// "layer  status detail": on a terminal narrower than the line (`width`), the detail
// wraps under itself, or below the layer's name when the terminal is very narrow.
std::string row(const Check& c, std::size_t width) {
  constexpr std::size_t k_detail_column = 24;
  const auto head = fmt::format("{:<18} {:<4} ", c.layer, label(c.status));
  const bool beside = width >= 60; // else every row is a block, so the rows look alike
  if (width == 0 || (beside && k_detail_column + strings::columns(c.detail) <= width)) return head + c.detail + "\n";
  const std::string indent(beside ? k_detail_column : 2, ' ');
  std::string out = beside ? head : fmt::format("{} {}\n", c.layer, label(c.status));
  bool first = true;
  for (const auto& line : strings::wrap_words(c.detail, width - indent.size())) {
    out += (first && beside ? "" : indent) + line + "\n";
    first = false;
  }
  return out;
}

class DoctorCommand final : public Command {
public:
  std::string_view name() const override { return "doctor"; }
  std::string_view summary() const override { return "Report which isolation layers and limits are active here"; }

  void add_to(CLI::App& app) override {
    app.add_option("-w,--workspace", m_workspace, "Workspace directory (default: $SANDPIT_WORKSPACE or .)")->type_name("DIR");
    app.add_flag("--json", m_json, "Print the checks as JSON");
  }

  ExitCode run(Context& context) override {
    const auto& config = context.config();
    std::vector<Check> checks;
    utsname uts{};
    ::uname(&uts);
    checks.push_back({"kernel", Status::ok, fmt::format("{} {}", uts.sysname, uts.release)});
    {
      auto quota = files::quota_support();
      const auto& l = config.limits;
      checks.push_back({"file quotas", quota.enforced ? Status::ok : Status::warn,
                        quota.enforced ? fmt::format("{}: /workspace {}, /persist {}", quota.detail, units::format_size(l.workspace),
                                                     units::format_size(l.persist))
                                       : quota.detail});
    }
    {
      // What code may reach, and how packages come in.
      std::string network = config.network_enabled ? "the host's network (network.enabled = true): no proxy, no allow list"
                          : config.network_allow.empty() ? "none: a loopback of its own (network.allow is empty)"
                                                         : fmt::format("through sandpit's proxy on 127.0.0.1:3128, only to {}", fmt::join(config.network_allow, ", "));
      checks.push_back({"network", config.network_enabled ? Status::warn : Status::ok, network});
      const auto& p = config.packages;
      std::string installs = p.allow.empty() ? "refused (packages.allow is empty)"
                           : fmt::format("pip from {}, npm from {}{}{}", p.python_index.empty() ? (p.python_find_links.empty() ? "https://pypi.org/simple" : "local wheels")
                                                                                                : p.python_index,
                                         p.npm_registry.empty() ? "https://registry.npmjs.org/" : p.npm_registry,
                                         p.allow == std::vector<std::string>{"*"} ? "" : fmt::format("; allowed: {}", fmt::join(p.allow, ", ")),
                                         p.allow_builds ? "; builds and install scripts run" : "; wheels only, no install scripts");
      checks.push_back({"packages", Status::ok, installs});
    }
    checks.push_back({"running as", Status::ok, ::geteuid() == 0 ? "root: sandboxed code runs as host uid 65534 (nobody)" : fmt::format("uid {}: sandboxed code runs as this uid, unprivileged", ::geteuid())});
    std::unique_ptr<session::Session> session;
    try {
      session = session::Session::start(config, Workspace::resolve(m_workspace), session::Lifetime::fresh);
    } catch (const Error& e) {
      checks.push_back({"jail", Status::fail, e.reason()});
    }
    if (session) {
      const auto& jail = session->jail();
      checks.push_back({"jail", Status::ok, "pivot_root into a read-only tmpfs root, fresh /proc, minimal /dev, /tmp tmpfs"});
      check_namespaces(checks, jail.init_pid(), config.network_enabled);
      check_privileges(checks, jail.init_pid());
      checks.push_back(limits_check(jail.limits()));
      check_interpreters(checks, *session);
    }
    bool isolated = print(checks);
    return isolated ? ExitCode::success : ExitCode::sandbox_setup;
  }

private:
  // Prints the table (or JSON); true when no check failed (warnings allowed).
  bool print(const std::vector<Check>& checks) const {
    bool isolated = true;
    json out = json::array();
    for (const auto& c : checks) {
      isolated = isolated && c.status != Status::fail;
      out.push_back({{"layer", c.layer}, {"status", label(c.status)}, {"ok", c.status == Status::ok}, {"detail", c.detail}});
      if (!m_json) fmt::print("{}", row(c, terminal_columns(STDOUT_FILENO)));
    }
    if (m_json) fmt::print("{}\n", json{{"ok", isolated}, {"checks", out}}.dump(2));
    return isolated;
  }

  std::string m_workspace;
  bool m_json = false;
};

} // namespace

std::unique_ptr<Command> make_doctor_command() { return std::make_unique<DoctorCommand>(); }

} // namespace sandpit::cli
