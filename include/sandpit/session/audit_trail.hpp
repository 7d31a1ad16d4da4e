// Intent-first audit records for every action that has effects: the intent before, the outcome after,
// and the recovery of actions whose process died in between.
#pragma once

#include "sandpit/audit/record.hpp"
#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace sandpit::session {

// Ends the reason of a refusal because the audit log cannot take a record.
inline constexpr std::string_view k_nothing_ran = "(nothing was run or changed: every action is recorded before it starts)";

// One action recorded intent-first. Owned by the process that will record the outcome.
class AuditedAction {
public:
  // Appends `intent` (the action's record before it has an outcome; "phase" and
  // "owner" are added) to the config's audit log, and leaves an in-flight marker in
  // the workspace's state folder. Throws Error(sandbox_setup, "audit log <path>",
  // why) when the log cannot take it: the caller must not start the action.
  AuditedAction(const config::Config& config, const Workspace& workspace, audit::Record intent);
  // Not completed (an error path that forgot, or an exception the caller did not
  // expect): the outcome says the action ended without one.
  ~AuditedAction();
  AuditedAction(const AuditedAction&) = delete;
  AuditedAction& operator=(const AuditedAction&) = delete;

  // Appends `outcome` (the record with its outcome filled in) linked to the intent,
  // then removes the marker. Returns "" or the warning to print: a torn line found
  // (by this append or the intent's), or the log could not be written (then the
  // action shows as interrupted).
  std::string complete(audit::Record outcome);
  bool completed() const { return m_completed; }
  const std::string& intent_hash() const { return m_hash; }

private:
  const config::Config& m_config;
  std::filesystem::path m_inflight;
  std::string m_hash;
  audit::Record m_intent;
  std::string m_warning; // a torn line the intent's append found, said with the outcome
  bool m_completed = false;
};

// The folder of a workspace's in-flight markers.
std::filesystem::path inflight_dir(const Workspace& workspace);

// Records as interrupted the workspace's actions whose process died before their
// outcome was recorded, and returns one notice per action for the user, e.g.
// "an earlier exec in this workspace did not finish: the session daemon (pid 4242) died during it
//  (python, 14 bytes, started 2025-01-04T19:30:45.123Z); the audit log records it as interrupted".
// A torn last line the recovery found gets its own notice first. Never throws: a log that
// cannot be written gives a notice saying so.
std::vector<std::string> recover_lost(const config::Config& config, const Workspace& workspace);

// After a session daemon's connection broke mid-action: if that daemon (`daemon_pid`)
// is exiting, waits (at most 2 s) until it is gone, then recover_lost(). A daemon that
// lives on is not waited for, and nothing is recovered.
std::vector<std::string> recover_after_crash(const config::Config& config, const Workspace& workspace, pid_t daemon_pid);

} // namespace sandpit::session
