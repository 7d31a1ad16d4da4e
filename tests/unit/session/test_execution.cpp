#include "sandpit/session/execution.hpp"

#include <doctest/doctest.h>

using namespace sandpit::session;

TEST_CASE("to_json, exactly the output contract's fields, in its order") {
  ExecResult r;
  r.success = false;
  r.language = sandpit::kernels::Language::javascript;
  r.stdout_text = "o";
  r.error = ErrorInfo{"TypeError", "bad", "tb"};
  r.exit_code = 1;
  r.duration_ms = 3.14159;
  r.session = "ws-x";
  r.execution_count = 7;
  auto j = to_json(r);
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"success", "language", "stdout", "stderr", "result", "images", "error",
                                         "exit_code", "timed_out", "duration_ms", "stdout_truncated",
                                         "stderr_truncated", "session", "execution_count"});
  CHECK(j["language"] == "javascript");
  CHECK(j["error"]["name"] == "TypeError");
  CHECK(j["result"].is_null());
  CHECK(j["images"].is_array());
  CHECK(j["duration_ms"] == doctest::Approx(3.1));
}
