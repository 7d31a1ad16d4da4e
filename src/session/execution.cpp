#include "sandpit/session/execution.hpp"

#include <cmath>

namespace sandpit::session {

std::string_view name_of(Completeness c) {
  switch (c) {
  case Completeness::complete: return "complete";
  case Completeness::incomplete: return "incomplete";
  case Completeness::invalid: return "invalid";
  }
  return "complete";
}

std::optional<Completeness> parse_completeness(std::string_view name) {
  for (auto c : {Completeness::complete, Completeness::incomplete, Completeness::invalid}) {
    if (name_of(c) == name) return c;
  }
  return std::nullopt;
}

std::string sandbox_failure(const ExecResult& r) {
  if (!r.error) return "";
  const auto& name = r.error->name;
  // The code's own exceptions were already printed by the driver on stderr.
  if (name != "Timeout" && name != "OutputLimitExceeded" && name != "OutOfMemory" && name != "Killed" &&
      name != "SandboxLost" && name != "KernelDied" && name != "InstallError" && name != "PolicyError") {
    return "";
  }
  std::string what = name == "Timeout" ? "timed out" : name == "OutputLimitExceeded" ? "output limit"
                   : name == "InstallError" ? "install failed" : name == "PolicyError" ? "refused by policy" : "execution failed";
  return what + ": " + r.error->value;
}

nlohmann::ordered_json to_json(const ExecResult& r) {
  nlohmann::ordered_json error = nullptr;
  if (r.error) error = {{"name", r.error->name}, {"value", r.error->value}, {"traceback", r.error->traceback}};
  nlohmann::ordered_json out = {{"success", r.success},
          {"language", kernels::name_of(r.language)},
          {"stdout", r.stdout_text},
          {"stderr", r.stderr_text},
          {"result", r.result ? *r.result : nlohmann::json(nullptr)},
          {"images", r.images},
          {"error", error},
          {"exit_code", r.exit_code},
          {"timed_out", r.timed_out},
          {"duration_ms", std::round(r.duration_ms * 10) / 10},
          {"stdout_truncated", r.stdout_truncated},
          {"stderr_truncated", r.stderr_truncated},
          {"session", r.session},
          {"execution_count", r.execution_count}};
  // Only when display() was called: the object keeps DESIGN.md's fields otherwise.
  if (!r.displays.empty()) out["displays"] = r.displays;
  if (!r.packages_installed.empty()) out["packages_installed"] = r.packages_installed;
  return out;
}

} // namespace sandpit::session

namespace sandpit::session {

ExecResult from_json(const nlohmann::json& j) {
  ExecResult r;
  r.success = j.value("success", false);
  r.language = kernels::parse_language(j.value("language", "python")).value_or(kernels::Language::python);
  r.stdout_text = j.value("stdout", "");
  r.stderr_text = j.value("stderr", "");
  if (j.contains("result") && j["result"].is_object()) r.result = j["result"];
  if (j.contains("images") && j["images"].is_array()) r.images = j["images"];
  if (j.contains("displays") && j["displays"].is_array()) r.displays = j["displays"];
  if (j.contains("packages_installed") && j["packages_installed"].is_array()) r.packages_installed = j["packages_installed"];
  if (j.contains("error") && j["error"].is_object()) {
    const auto& e = j["error"];
    r.error = ErrorInfo{e.value("name", ""), e.value("value", ""), e.value("traceback", "")};
  }
  r.exit_code = j.value("exit_code", 1);
  r.timed_out = j.value("timed_out", false);
  r.duration_ms = j.value("duration_ms", 0.0);
  r.stdout_truncated = j.value("stdout_truncated", false);
  r.stderr_truncated = j.value("stderr_truncated", false);
  r.session = j.value("session", "");
  r.execution_count = j.value("execution_count", 0);
  return r;
}

} // namespace sandpit::session
