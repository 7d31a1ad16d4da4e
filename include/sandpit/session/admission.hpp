// Admission and the audit trail of executions: who may run code, the pattern screen, and the record each run leaves.
#pragma once

#include "sandpit/audit/record.hpp"
#include "sandpit/config/config.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/files/files.hpp"
#include "sandpit/policy/policy.hpp"
#include "sandpit/proxy/egress.hpp"
#include "sandpit/session/execution.hpp"

#include <functional>
#include <string>
#include <vector>

namespace sandpit::session {

// Who asks for an execution, as the audit record names them.
struct Caller {
  std::string user;
  std::string command = "exec"; // "exec" | "shell" | "repl" | "mcp"
  std::string client;           // mcp: the client's "name version"
};

// The caller for this process: identity from the config (policy::identify).
Caller caller_for(const config::Config& config, std::string command);

// Before any code runs. Throws Error(denied) when the caller may not run code
// and Error(policy) when policy.mode is "block" and a pattern matches; either
// refusal is audited first. Throws Error(sandbox_setup) when the audit log
// cannot be opened for appending, so nothing runs unaudited. In "warn" mode
// returns the findings for the caller to print.
std::vector<policy::Finding> admit(const config::Config& config, const Caller& caller, const Workspace& workspace,
                                   const ExecRequest& request);

// "sandpit: policy: line 3: os.remove/os.unlink/os.rmdir delete files (warn mode: running it anyway)"
std::string warning_text(const policy::Finding& finding);

// The record of an execution: caller, workspace, language and the code's hash.
audit::Record exec_record(const Caller& caller, const Workspace& workspace, const ExecRequest& request);
// Fills in the outcome.
void set_outcome(audit::Record& record, const ExecResult& result);
// What an upload or download was asked to do: the paths as the caller gave them.
struct TransferAsked {
  std::string from;
  std::string to;
};
// The record of a transfer (caller.command is "upload", "download", "import" or
// "export"): the files copied (at most 1000 named, with bytes and sha256) or the error.
audit::Record transfer_record(const Caller& caller, const Workspace& workspace, const TransferAsked& asked,
                              const files::Report* report, const Error* error, double ms);

enum class Areas { workspace, volume_only }; // volume_only: /persist alone, no workspace touched

// A copy between the host and the sandbox, audited intent-first: records the
// workspace's lost actions as interrupted (printing a notice for each), appends
// the transfer's intent (throws Error(sandbox_setup) when the log cannot take it:
// nothing is copied), enters this thread's quota mounts, opens the roots, runs
// `copy` and appends its transfer_record (files or the error) before returning the
// report or rethrowing the copy's Error. The one way uploads and downloads run,
// for the CLI and for `sandpit mcp` alike.
files::Report audited_transfer(const config::Config& config, const Caller& caller, const Workspace& workspace,
                               const TransferAsked& asked, const files::Transfer& options, Areas areas,
                               const std::function<files::Report(const files::Roots&, const files::Transfer&)>& copy);

// The audit record of every connection an egress proxy let through or refused
// (command "network": channel, host, port, rule or reason, bytes each way).
std::function<void(const proxy::Connection&)> connection_auditor(const config::Config& config, const Workspace& workspace,
                                                                 const std::string& session);

// Appends to the config's audit log. Returns "" or the warning to print
// (a torn line found, or the log could not be written).
std::string append_audit(const config::Config& config, audit::Record record);

} // namespace sandpit::session
