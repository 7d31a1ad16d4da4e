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

std::string text_of(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A MIME bundle from the driver: strings, and a JSON value for application/json.
nlohmann::json mime_bundle(const nlohmann::json& value) {
  nlohmann::json mime = nlohmann::json::object();
  for (const auto& [type, data] : value.items()) {
    if (data.is_string() || (type == "application/json" && (data.is_object() || data.is_array()))) mime[type] = data;
  }
  return mime;
}

// The driver runs inside the sandbox: take only fields of the expected types.
void take_driver_result(ExecResult& r, const nlohmann::json& d) {
  auto code = d.find("exit_code");
  r.exit_code = code != d.end() && code->is_number_integer() ? code->get<int>() : 1;
  if (auto value = d.find("value"); value != d.end() && value->is_object()) {
    auto mime = mime_bundle(*value);
    if (!mime.empty()) r.result = std::move(mime);
  }
  if (auto displays = d.find("displays"); displays != d.end() && displays->is_array()) {
    for (const auto& shown : *displays) {
      if (!shown.is_object()) continue;
      auto mime = mime_bundle(shown);
      if (!mime.empty()) r.displays.push_back(std::move(mime));
    }
  }
  if (auto images = d.find("images"); images != d.end() && images->is_array()) {
    for (const auto& image : *images) {
      if (!image.is_object()) continue;
      r.images.push_back({{"format", text_of(image, "format")}, {"path", text_of(image, "path")}, {"base64", text_of(image, "base64")}});
    }
  }
  if (auto e = d.find("error"); e != d.end() && e->is_object()) {
    r.error = ErrorInfo{text_of(*e, "name"), text_of(*e, "value"), text_of(*e, "traceback")};
  }
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
  if (o.driver_result) take_driver_result(r, *o.driver_result);
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
  if (o.protocol_error) {
    r.error = ErrorInfo{"KernelDied", fmt::format("the {} kernel broke its protocol (more than 16MiB without a newline) and was stopped", language), ""};
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
