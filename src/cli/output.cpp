#include "output.hpp"

#include "sandpit/sys/fd.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::cli {
namespace {

class TerminalSink final : public session::OutputSink {
public:
  void on_stdout(std::string_view data) override { (void)sys::write_all(STDOUT_FILENO, data); }
  void on_stderr(std::string_view data) override { (void)sys::write_all(STDERR_FILENO, data); }
};

class CaptureSink final : public session::OutputSink {
public:
  void on_stdout(std::string_view) override {}
  void on_stderr(std::string_view) override {}
};

// Errors that the sandbox reports about the run itself; the code's own
// exceptions were already printed by the driver on stderr.
bool reported_by_sandbox(const std::string& name) {
  return name == "Timeout" || name == "OutputLimitExceeded" || name == "OutOfMemory" || name == "Killed" ||
         name == "SandboxLost";
}

} // namespace

std::unique_ptr<session::OutputSink> make_terminal_sink() { return std::make_unique<TerminalSink>(); }
std::unique_ptr<session::OutputSink> make_capture_sink() { return std::make_unique<CaptureSink>(); }

void print_human(const session::ExecResult& r) {
  if (r.result && r.result->contains("text/plain")) {
    std::string text = (*r.result)["text/plain"].get<std::string>() + "\n";
    (void)sys::write_all(STDOUT_FILENO, text);
  }
  if (r.error && reported_by_sandbox(r.error->name)) {
    std::string what = r.error->name == "Timeout" ? "timed out" : r.error->name == "OutputLimitExceeded" ? "output limit" : "execution failed";
    (void)sys::write_all(STDERR_FILENO, fmt::format("sandpit: {}: {}\n", what, r.error->value));
  }
}

void print_json(const session::ExecResult& r) {
  std::string text = session::to_json(r).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  (void)sys::write_all(STDOUT_FILENO, text);
}

} // namespace sandpit::cli
