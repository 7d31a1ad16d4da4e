#include "execute.hpp"

#include "output.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/files/quota.hpp"
#include "sandpit/session/admission.hpp"
#include "sandpit/session/audit_trail.hpp"
#include "sandpit/session/client.hpp"
#include "sandpit/session/pool.hpp"
#include "sandpit/session/session.hpp"
#include "sandpit/sys/fd.hpp"

#include "sandpit/util/fault.hpp"
#include "sandpit/util/trace.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::cli {
namespace {

using kernels::Language;

Language choose_language(const ExecOptions& o) {
  if (!o.language.empty()) {
    if (auto l = kernels::parse_language(o.language)) return *l;
    throw Error(ExitCode::usage, "--language " + o.language, fmt::format("unknown language (use {})", kernels::language_list()));
  }
  if (!o.file.empty() && o.file != "-") {
    if (auto l = kernels::language_for_file(o.file)) return *l;
  }
  return Language::python;
}

session::ExecRequest make_request(Context& context, const ExecOptions& o) {
  if (o.code && !o.file.empty()) throw Error(ExitCode::usage, "exec", "give either -c CODE or FILE, not both");
  session::ExecRequest request;
  request.language = choose_language(o);
  if (o.code) {
    request.code = *o.code;
  } else if (o.file.empty() || o.file == "-") {
    request.code = check(sys::read_all(STDIN_FILENO), ExitCode::usage, "read code from stdin");
    request.filename = "<stdin>";
  } else {
    request.code = check(sys::read_file(o.file), ExitCode::usage, "read " + o.file);
    request.filename = o.file;
  }
  request.timeout = context.config().limits.timeout;
  request.packages = o.packages;
  if (!o.timeout.empty()) {
    auto t = units::parse_duration(o.timeout);
    if (!t || t->count() <= 0) throw Error(ExitCode::usage, "--timeout " + o.timeout, "expected a duration like \"30s\"");
    request.timeout = config::bounded_timeout(context.config(), *t, "--timeout " + o.timeout);
  }
  return request;
}

session::protocol::Execute protocol_request(const session::ExecRequest& request, const session::Caller& caller) {
  session::protocol::Execute e;
  e.language = std::string(kernels::name_of(request.language));
  e.code = request.code;
  e.filename = request.filename;
  e.timeout_ms = request.timeout.count();
  e.user = caller.user;
  e.command = caller.command;
  e.client = caller.client;
  e.packages = request.packages;
  return e;
}

// A throwaway jail in this process (or a pool sandbox lent for this one run), torn down before we answer:
// nothing is left behind.
// Audited here: no daemon is involved.
session::ExecResult run_fresh(Context& context, const session::ExecRequest& request, const Workspace& workspace,
                              const session::Caller& caller, session::OutputSink& sink) {
  auto record = session::exec_record(caller, workspace, request);
  session::AuditedAction action(context.config(), workspace, record); // before any effect
  session::ExecResult result;
  try {
    // A pool sandbox, when one is ready: its jail and kernel were made before, and only the workspace's
    // files are mounted into it. The run is as fresh (a kernel no cell has run in, gone after this one).
    if (auto lent = request.packages.empty() ? session::pool::borrow(context.config(), workspace) : std::nullopt) {
      trace::mark("pool: borrowed");
      auto client = session::Client::lent(std::move(lent->connection), lent->pid);
      result = client.execute(protocol_request(request, caller), sink); // the sandbox asks for its refill itself
    } else {
      files::enter_quota_mounts(context.config(), workspace);
      trace::mark("quota mounts");
      auto session = session::Session::start(context.config(), workspace, session::Lifetime::fresh, request.language);
      result = session->execute(request, sink);
    }
  } catch (const Error& e) {
    record.exit_code = static_cast<int>(e.code());
    record.error = e.subject() + ": " + e.reason();
    (void)action.complete(std::move(record));
    throw;
  }
  fault::reached("result");
  session::set_outcome(record, result);
  if (auto full = files::full_areas(context.config(), workspace); !full.empty()) fmt::print(stderr, "sandpit: {}\n", full);
  if (auto warning = action.complete(std::move(record)); !warning.empty()) fmt::print(stderr, "sandpit: {}\n", warning);
  fault::reached("recorded");
  return result;
}

// The workspace's session daemon (started if needed) runs it; state persists.
session::ExecResult run_in_session(Context& context, const session::ExecRequest& request, const Workspace& workspace,
                                   const ExecOptions& options, const session::Caller& caller, session::OutputSink& sink) {
  auto client = session::Client::connect(workspace, context.config_file, session::Start::yes,
                                         std::string(kernels::name_of(request.language)), context.config().max_sessions,
                                         &context.config());
  trace::mark("connected");
  if (client->replaced_dead_daemon()) {
    fmt::print(stderr, "sandpit: the session daemon of this workspace had died; a new session starts without its state\n");
  }
  auto e = protocol_request(request, caller);
  e.wait = !options.no_wait;
  try {
    return client->execute(e, sink);
  } catch (const session::DaemonGone&) {
    // A daemon that died mid-run owes this run's outcome: record it as interrupted now and say so.
    for (const auto& notice : session::recover_after_crash(context.config(), workspace, client->daemon_pid())) {
      fmt::print(stderr, "sandpit: {}\n", notice);
    }
    throw;
  }
}

} // namespace

ExitCode run_execution(Context& context, const ExecOptions& options) {
  auto request = make_request(context, options);
  trace::mark("request ready");
  auto workspace = Workspace::resolve(options.workspace);
  if (options.json && options.events) throw Error(ExitCode::usage, "--events", "give either --json or --events, not both");
  auto caller = session::caller_for(context.config(), context.via.empty() ? options.command : context.via);
  for (const auto& notice : session::recover_lost(context.config(), workspace)) fmt::print(stderr, "sandpit: {}\n", notice);
  for (const auto& finding : session::admit(context.config(), caller, workspace, request)) {
    fmt::print(stderr, "sandpit: {}\n", session::warning_text(finding));
  }
  auto sink = options.events ? make_events_sink()
            : options.json  ? make_capture_sink()
                            : make_terminal_sink(context.via.empty() ? Escape::no : Escape::yes);
  if (!request.packages.empty() && !options.json && !options.events) sink = with_spinner(std::move(sink));
  auto result = options.fresh ? run_fresh(context, request, workspace, caller, *sink)
                              : run_in_session(context, request, workspace, options, caller, *sink);
  sink.reset(); // writes what an escaping sink held back
  trace::mark("executed");
  if (options.events) print_events_tail(result);
  else options.json ? print_json(result) : print_human(result);
  if (result.timed_out) return ExitCode::timed_out;
  return result.success ? ExitCode::success : ExitCode::code_failed;
}

} // namespace sandpit::cli
