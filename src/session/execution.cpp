#include "sandpit/session/execution.hpp"

#include <cmath>

namespace sandpit::session {

nlohmann::ordered_json to_json(const ExecResult& r) {
  nlohmann::ordered_json error = nullptr;
  if (r.error) error = {{"name", r.error->name}, {"value", r.error->value}, {"traceback", r.error->traceback}};
  return {{"success", r.success},
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
}

} // namespace sandpit::session
