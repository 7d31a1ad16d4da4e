#include "output.hpp"

#include "sandpit/sys/fd.hpp"
#include "sandpit/util/strings.hpp"
#include "sandpit/util/terminal.hpp"

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::cli {
namespace {

class TerminalSink final : public session::OutputSink {
public:
  void on_stdout(std::string_view data) override { (void)sys::write_all(STDOUT_FILENO, data); }
  void on_stderr(std::string_view data) override { (void)sys::write_all(STDERR_FILENO, data); }
};

class EscapingSink final : public session::OutputSink {
public:
  explicit EscapingSink(Sgr sgr) : m_out(sgr), m_err(sgr) {}
  ~EscapingSink() override {
    (void)sys::write_all(STDOUT_FILENO, m_out.flush());
    (void)sys::write_all(STDERR_FILENO, m_err.flush());
  }
  EscapingSink(const EscapingSink&) = delete;
  EscapingSink& operator=(const EscapingSink&) = delete;
  void on_stdout(std::string_view data) override { (void)sys::write_all(STDOUT_FILENO, m_out.feed(data)); }
  void on_stderr(std::string_view data) override { (void)sys::write_all(STDERR_FILENO, m_err.feed(data)); }

private:
  TerminalEscaper m_out, m_err;
};

class CaptureSink final : public session::OutputSink {
public:
  void on_stdout(std::string_view) override {}
  void on_stderr(std::string_view) override {}
};

void print_line(const nlohmann::ordered_json& event) {
  (void)sys::write_all(STDOUT_FILENO, event.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}

class EventsSink final : public session::OutputSink {
public:
  EventsSink() { print_line({{"type", "status"}, {"execution_state", "busy"}}); }
  void on_stdout(std::string_view data) override { emit("stdout", m_out, data); }
  void on_stderr(std::string_view data) override { emit("stderr", m_err, data); }

private:
  static void emit(const char* name, std::string& pending, std::string_view data) {
    pending.append(data);
    auto n = strings::complete_utf8_prefix(pending);
    if (n == 0) return;
    print_line({{"type", "stream"}, {"name", name}, {"text", pending.substr(0, n)}});
    pending.erase(0, n);
  }
  std::string m_out, m_err;
};

} // namespace

std::unique_ptr<session::OutputSink> make_events_sink() { return std::make_unique<EventsSink>(); }

void print_events_tail(const session::ExecResult& r) {
  for (const auto& image : r.images) {
    print_line({{"type", "display_data"},
                {"data", {{"image/" + image.value("format", std::string("png")), image.value("base64", "")}}},
                {"metadata", {{"path", image.value("path", "")}}}});
  }
  if (r.result) print_line({{"type", "execute_result"}, {"execution_count", r.execution_count}, {"data", *r.result}});
  if (r.error) {
    print_line({{"type", "error"}, {"ename", r.error->name}, {"evalue", r.error->value},
                {"traceback", strings::split(r.error->traceback, '\n')}});
  }
  print_line({{"type", "status"}, {"execution_state", "idle"}});
  nlohmann::ordered_json result = {{"type", "result"}};
  const auto fields = session::to_json(r);
  for (const auto& [key, value] : fields.items()) result[key] = value;
  print_line(result);
}

std::unique_ptr<session::OutputSink> make_terminal_sink(Escape escape) {
  if (escape == Escape::no) return std::make_unique<TerminalSink>();
  const char* no_color = std::getenv("NO_COLOR");
  bool color = ::isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0');
  return std::make_unique<EscapingSink>(color ? Sgr::pass : Sgr::escape);
}
std::unique_ptr<session::OutputSink> make_capture_sink() { return std::make_unique<CaptureSink>(); }

void print_human(const session::ExecResult& r) {
  if (r.result && r.result->contains("text/plain")) {
    std::string text = (*r.result)["text/plain"].get<std::string>() + "\n";
    (void)sys::write_all(STDOUT_FILENO, text);
  }
  for (const auto& image : r.images) {
    auto path = image.value("path", "");
    if (!path.empty()) (void)sys::write_all(STDOUT_FILENO, fmt::format("[image: {}]\n", path));
  }
  if (auto failure = session::sandbox_failure(r); !failure.empty()) {
    (void)sys::write_all(STDERR_FILENO, fmt::format("sandpit: {}\n", failure));
  }
}

void print_json(const session::ExecResult& r) {
  std::string text = session::to_json(r).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  (void)sys::write_all(STDOUT_FILENO, text);
}

} // namespace sandpit::cli
