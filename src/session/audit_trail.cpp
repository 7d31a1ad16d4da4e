#include "sandpit/session/audit_trail.hpp"

#include "sandpit/audit/inflight.hpp"
#include "sandpit/audit/log.hpp"
#include "sandpit/audit/owner.hpp"
#include "sandpit/audit/time.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/util/fault.hpp"

#include "sandpit/sys/fd.hpp"

#include <chrono>
#include <mutex>
#include <fmt/format.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace sandpit::session {
namespace {

audit::Sync sync_of(const config::Config& config) { return config.audit_fsync ? audit::Sync::yes : audit::Sync::no; }

// This process as the owner of its intents, as JSON; read once per process (a forked child reads
// again), not once per thread: the daemon serves each client on a new thread.
nlohmann::ordered_json self_json() {
  static std::mutex mutex;
  static audit::Owner owner;
  std::lock_guard lock(mutex);
  if (owner.pid != ::getpid()) owner = audit::Owner::self(std::string(fault::name_of(fault::role())));
  return owner.to_json();
}

// "exec (python, 14 bytes) started 2025-01-04T19:30:45.123Z did not finish: the session daemon (pid 4242)
// died during it, and the session's state with it; the audit log records it as interrupted"
std::string what_was_lost(const audit::Lost& lost) {
  const auto& r = lost.intent;
  std::string what = r.language ? fmt::format(" ({}, {} bytes)", *r.language, r.code_bytes) : std::string();
  if (!r.language && r.extra.contains("from") && r.extra.contains("to")) {
    what = fmt::format(" ({} -> {})", r.extra["from"].dump(), r.extra["to"].dump());
  }
  return fmt::format("{}{} started {} did not finish: {} died during it{}; the audit log records it as interrupted", r.command, what,
                     audit::format_ts(r.ts_ms), lost.owner.describe(), lost.owner.role == "daemon" ? ", and the session's state with it" : "");
}

} // namespace

std::filesystem::path inflight_dir(const Workspace& workspace) { return workspace.state_dir / "inflight"; }

AuditedAction::AuditedAction(const config::Config& config, const Workspace& workspace, audit::Record intent)
    : m_config(config), m_inflight(inflight_dir(workspace)), m_intent(std::move(intent)) {
  m_intent.extra["phase"] = std::string(audit::k_phase_intent);
  m_intent.extra["owner"] = self_json();
  audit::Log log(config.audit_file(), sync_of(config));
  try {
    m_hash = log.append(m_intent);
  } catch (const Error& e) {
    m_completed = true; // nothing to complete
    throw Error(e.code(), e.subject(), e.reason() + " " + std::string(k_nothing_ran));
  }
  if (auto torn = log.last_torn_line()) m_warning = audit::torn_line_warning(log.path(), *torn);
  audit::InFlight(m_inflight).add(m_hash, log.path(), log.last_offset(), log.last_line());
}

AuditedAction::~AuditedAction() {
  if (m_completed) return;
  auto outcome = m_intent;
  outcome.extra.erase("phase");
  outcome.extra.erase("owner");
  outcome.exit_code = 125;
  outcome.error = "Interrupted: the action ended without an outcome (an internal error)";
  (void)complete(std::move(outcome));
}

std::string AuditedAction::complete(audit::Record outcome) {
  m_completed = true;
  outcome.extra["intent"] = m_hash;
  std::string warning = std::exchange(m_warning, {}); // a torn line the intent's append found
  try {
    audit::Log log(m_config.audit_file(), sync_of(m_config));
    log.append(std::move(outcome));
    if (auto torn = log.last_torn_line()) warning += (warning.empty() ? "" : "\nsandpit: ") + audit::torn_line_warning(log.path(), *torn);
  } catch (const Error& e) {
    // The marker stays: the next run records the action as interrupted, if the log has room by then.
    const auto lost = fmt::format("{}: {} (the outcome of this {} is not recorded; the log will show it as interrupted)", e.subject(),
                                  e.reason(), m_intent.command);
    return warning.empty() ? lost : warning + "\nsandpit: " + lost;
  }
  audit::InFlight(m_inflight).remove(m_hash);
  return warning;
}

namespace {

// 'Z' for a zombie, 'X' dead, '\0' when there is no such process.
char process_state(pid_t pid) {
  auto text = sys::read_file(fmt::format("/proc/{}/stat", pid));
  if (!text) return '\0';
  auto close = text->rfind(')');
  return close != std::string::npos && close + 2 < text->size() ? (*text)[close + 2] : '\0';
}

bool exited(pid_t pid) {
  const char state = process_state(pid);
  return state == '\0' || state == 'Z' || state == 'X';
}

} // namespace

std::vector<std::string> recover_after_crash(const config::Config& config, const Workspace& workspace, pid_t daemon_pid) {
  if (daemon_pid <= 0) return {};
  // Its socket closes as the kernel tears the process down: give that a moment to finish.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!exited(daemon_pid)) {
    if (std::chrono::steady_clock::now() > give_up) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return recover_lost(config, workspace);
}

std::vector<std::string> recover_lost(const config::Config& config, const Workspace& workspace) {
  std::vector<std::string> notices;
  try {
    audit::Log log(config.audit_file(), sync_of(config));
    for (const auto& lost : audit::InFlight(inflight_dir(workspace)).recover(log)) {
      if (lost.torn_line) notices.push_back(audit::torn_line_warning(log.path(), *lost.torn_line));
      notices.push_back(what_was_lost(lost));
    }
  } catch (const Error& e) {
    notices.push_back(fmt::format("{}: {} (an earlier run that did not finish could not be recorded as interrupted)", e.subject(), e.reason()));
  }
  return notices;
}

} // namespace sandpit::session
