#include "sandpit/session/admission.hpp"
#include "sandpit/session/packages.hpp"
#include "sandpit/session/audit_trail.hpp"

#include "sandpit/audit/log.hpp"
#include "sandpit/files/quota.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/kernels/language.hpp"
#include "sandpit/sys/fd.hpp"

#include <chrono>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

namespace sandpit::session {
namespace {

// Opens (creating) the log once, so a run never starts that could not be recorded.
void check_log_writable(const config::Config& config) {
  const auto path = config.audit_file();
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (!ec) std::filesystem::permissions(path.parent_path(), std::filesystem::perms::owner_all, ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error(ExitCode::sandbox_setup, "audit log " + path.string(), errno_failure("open").message() + " " + std::string(k_nothing_ran));
  }
  sys::Fd owned(fd);
}

[[noreturn]] void refuse(const config::Config& config, audit::Record record, ExitCode code, const std::string& what,
                         const std::string& why) {
  record.success = false;
  record.exit_code = static_cast<int>(code);
  auto warning = append_audit(config, std::move(record));
  if (!warning.empty()) fmt::print(stderr, "sandpit: {}\n", warning);
  throw Error(code, what, why);
}

} // namespace

Caller caller_for(const config::Config& config, std::string command) {
  return Caller{policy::identify(config).user, std::move(command), {}};
}

std::vector<policy::Finding> admit(const config::Config& config, const Caller& caller, const Workspace& workspace,
                                   const ExecRequest& request) {
  check_log_writable(config);
  auto who = policy::identify(config);
  who.user = caller.user;
  who.admin = std::find(config.admins.begin(), config.admins.end(), who.user) != config.admins.end();
  if (!policy::may_exec(config, who)) {
    auto record = exec_record(caller, workspace, request);
    record.denied = "access.exec is \"admins\"";
    refuse(config, std::move(record), ExitCode::denied, "access denied",
           fmt::format("only admins may run code here (access.exec = \"admins\"; you are {})", caller.user));
  }
  if (!request.packages.empty()) {
    const auto installer = installer_for(request.language);
    if (!installer) throw Error(ExitCode::usage, "packages", "bash has no package installer: install with pip (Python) or npm (JavaScript)");
    for (const auto& spec : parse_packages(*installer, request.packages)) {
      if (auto why = package_refusal(config, spec)) {
        auto record = exec_record(caller, workspace, request);
        record.blocked = *why;
        refuse(config, std::move(record), ExitCode::policy, "refused by policy", *why);
      }
    }
  }
  auto findings = policy::screen(config, kernels::name_of(request.language), request.code);
  if (findings.empty() || config.policy_mode != config::PolicyMode::block) return findings;
  const auto& first = findings.front();
  auto record = exec_record(caller, workspace, request);
  record.blocked = first.reason;
  refuse(config, std::move(record), ExitCode::policy, "refused by policy",
         fmt::format("line {}: {} (pattern from {})", first.line, first.reason, first.origin));
}

std::string warning_text(const policy::Finding& finding) {
  return fmt::format("policy: line {}: {} (warn mode: running it anyway)", finding.line, finding.reason);
}

audit::Record exec_record(const Caller& caller, const Workspace& workspace, const ExecRequest& request) {
  audit::Record r;
  r.user = caller.user;
  r.workspace = workspace.host_dir.string();
  r.command = caller.command;
  r.language = std::string(kernels::name_of(request.language));
  r.code_sha256 = audit::sha256_hex(request.code);
  r.code_bytes = static_cast<std::int64_t>(request.code.size());
  if (!caller.client.empty()) r.extra["client"] = caller.client;
  if (!request.packages.empty()) r.extra["packages"] = request.packages;
  return r;
}

void set_outcome(audit::Record& record, const ExecResult& result) {
  if (!result.packages_installed.empty()) record.extra["packages_installed"] = result.packages_installed;
  record.session = result.session;
  record.success = result.success;
  record.exit_code = result.exit_code;
  record.timed_out = result.timed_out;
  record.duration_ms = static_cast<std::int64_t>(result.duration_ms + 0.5);
  if (result.error) record.error = result.error->value.empty() ? result.error->name : result.error->name + ": " + result.error->value;
}

namespace {

constexpr std::size_t k_max_listed = 1000; // files named in one audit record

} // namespace

audit::Record transfer_record(const Caller& caller, const Workspace& workspace, const TransferAsked& asked,
                              const files::Report* report, const Error* error, double ms) {
  audit::Record r;
  r.user = caller.user;
  r.workspace = workspace.host_dir.string();
  r.command = caller.command;
  r.success = error == nullptr;
  r.exit_code = error ? static_cast<int>(error->code()) : 0;
  r.duration_ms = static_cast<std::int64_t>(ms + 0.5);
  if (error) r.error = error->subject() + ": " + error->reason();
  r.extra["from"] = asked.from;
  r.extra["to"] = asked.to;
  if (report) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < report->files.size() && i < k_max_listed; ++i) {
      const auto& f = report->files[i];
      list.push_back({{"host", f.host}, {"sandbox", f.sandbox}, {"bytes", f.bytes}, {"sha256", f.sha256}});
    }
    r.extra["files"] = std::move(list);
    r.extra["file_count"] = report->files.size();
    r.extra["bytes"] = report->bytes();
    if (!report->skipped.empty()) r.extra["skipped"] = report->skipped.size();
  }
  if (!caller.client.empty()) r.extra["client"] = caller.client;
  return r;
}

files::Report audited_transfer(const config::Config& config, const Caller& caller, const Workspace& workspace,
                               const TransferAsked& asked, const files::Transfer& options, Areas areas,
                               const std::function<files::Report(const files::Roots&, const files::Transfer&)>& copy) {
  for (const auto& notice : recover_lost(config, workspace)) fmt::print(stderr, "sandpit: {}\n", notice);
  auto intent = transfer_record(caller, workspace, asked, nullptr, nullptr, 0);
  intent.success = false;
  AuditedAction action(config, workspace, intent); // before a byte moves
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(); };
  auto record = [&](const files::Report* report, const Error* error) {
    if (auto warning = action.complete(transfer_record(caller, workspace, asked, report, error, elapsed())); !warning.empty()) {
      fmt::print(stderr, "sandpit: {}\n", warning);
    }
  };
  files::Report report;
  try {
    areas == Areas::volume_only ? files::enter_persist_mount(config) : files::enter_quota_mounts(config, workspace);
    auto roots = areas == Areas::volume_only ? files::open_volume_root() : files::open_roots(workspace);
    report = copy(roots, options);
  } catch (const Error& e) {
    record(nullptr, &e);
    throw;
  }
  record(&report, nullptr);
  return report;
}

std::function<void(const proxy::Connection&)> connection_auditor(const config::Config& config, const Workspace& workspace,
                                                                 const std::string& session) {
  audit::Record base;
  base.user = policy::identify(config).user;
  base.workspace = workspace.host_dir.string();
  base.session = session;
  base.command = "network";
  return [config, base](const proxy::Connection& c) {
    auto r = base;
    r.success = c.allowed && c.refused.empty();
    r.exit_code = c.allowed ? (c.refused.empty() ? 0 : 1) : static_cast<int>(ExitCode::policy);
    r.duration_ms = c.took.count();
    if (!c.allowed) r.blocked = c.refused;
    else if (!c.refused.empty()) r.error = c.refused;
    r.extra["channel"] = c.channel;
    r.extra["method"] = c.method;
    r.extra["host"] = c.host;
    r.extra["port"] = c.port;
    if (!c.rule.empty()) r.extra["rule"] = c.rule;
    if (!c.address.empty()) r.extra["address"] = c.address;
    r.extra["bytes_up"] = c.bytes_up;
    r.extra["bytes_down"] = c.bytes_down;
    (void)append_audit(config, r);
  };
}

std::string append_audit(const config::Config& config, audit::Record record) {
  try {
    audit::Log log(config.audit_file(), config.audit_fsync ? audit::Sync::yes : audit::Sync::no);
    log.append(std::move(record));
    if (auto torn = log.last_torn_line()) return audit::torn_line_warning(log.path(), *torn);
  } catch (const Error& e) {
    return e.subject() + ": " + e.reason();
  }
  return "";
}

} // namespace sandpit::session
