// finish(): turns what the run loop saw into the result object.
#include "result.hpp"

#include <csignal>
#include <fmt/format.h>
#include <string.h>
#include <sys/wait.h>

namespace sandpit::session {
namespace {

using kernels::Language;

std::string signal_text(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return fmt::format("signal {} (SIG{})", sig, abbrev != nullptr ? abbrev : "?");
}

} // namespace

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void finish(ExecResult& r, const RunOutcome& o, const config::Limits& limits, bool oom_killed, const ExecRequest& request) {
  const bool has_driver = request.language != Language::bash;
  const auto language = kernels::name_of(request.language);
  if (o.driver_result) {
    const auto& d = *o.driver_result;
    r.exit_code = d.value("exit_code", 1);
    if (d.contains("value") && d["value"].is_object()) r.result = d["value"];
    if (d.contains("images") && d["images"].is_array()) r.images = d["images"];
    if (d.contains("error") && d["error"].is_object()) {
      const auto& e = d["error"];
      r.error = ErrorInfo{e.value("name", ""), e.value("value", ""), e.value("traceback", "")};
    }
  }
  if (o.wait_status && (!has_driver || !o.driver_result || status_code(*o.wait_status) != 0)) {
    if (r.exit_code == 0) r.exit_code = status_code(*o.wait_status);
    if (WIFSIGNALED(*o.wait_status) && !r.error) {
      r.error = ErrorInfo{"Killed", fmt::format("the {} process was killed by {}", language, signal_text(WTERMSIG(*o.wait_status))), ""};
    }
    if (has_driver && !o.driver_result && WIFEXITED(*o.wait_status) && !r.error && r.exit_code != 0) {
      r.error = ErrorInfo{"KernelDied", fmt::format("the {} kernel exited with status {}", language, r.exit_code), ""};
    }
  }
  if (oom_killed) {
    r.error = ErrorInfo{"OutOfMemory", fmt::format("the sandbox ran out of memory (limit {})", units::format_size(limits.memory)), ""};
    if (r.exit_code == 0) r.exit_code = 137;
  }
  if (o.output_limit) {
    const char* which = r.stdout_truncated ? "stdout" : "stderr";
    r.error = ErrorInfo{"OutputLimitExceeded", fmt::format("{} exceeded {}; the run was stopped", which, units::format_size(limits.output)), ""};
    if (r.exit_code == 0) r.exit_code = 1;
  }
  if (o.interrupted && !o.timed_out && !r.error) r.error = ErrorInfo{"KeyboardInterrupt", "interrupted", ""};
  if (o.interrupted && r.exit_code == 0) r.exit_code = 130;
  if (o.timed_out) {
    r.timed_out = true;
    r.exit_code = 124;
    r.error = ErrorInfo{"Timeout", fmt::format("the execution exceeded the {} timeout", units::format_duration(request.timeout)), ""};
  }
  if (!o.wait_status && !o.driver_result && !o.timed_out && !r.error) {
    r.error = ErrorInfo{"SandboxLost", "the sandbox ended before the execution finished", ""};
    r.exit_code = 1;
  }
  r.success = r.exit_code == 0 && !r.error && !r.timed_out;
}

} // namespace sandpit::session
