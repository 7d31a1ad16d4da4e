#include "output.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/repl/spinner.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/strings.hpp"
#include "sandpit/util/terminal.hpp"

#include <clocale>
#include <cstdio>
#include <langinfo.h>
#include <mutex>
#include <optional>
#include <cstdlib>
#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::cli {
namespace {

class TerminalSink final : public session::OutputSink {
public:
  void on_stdout(std::string_view data) override { check_output(sys::write_all(STDOUT_FILENO, data)); }
  void on_stderr(std::string_view data) override { (void)sys::write_all(STDERR_FILENO, data); }
};

// Escapes the streams that need it; a stream without an escaper passes bytes through.
class EscapingSink final : public session::OutputSink {
public:
  EscapingSink(std::optional<Sgr> out, std::optional<Sgr> err) {
    if (out) m_out.emplace(*out);
    if (err) m_err.emplace(*err);
  }
  ~EscapingSink() override {
    if (m_out) (void)sys::write_all(STDOUT_FILENO, m_out->flush());
    if (m_err) (void)sys::write_all(STDERR_FILENO, m_err->flush());
  }
  EscapingSink(const EscapingSink&) = delete;
  EscapingSink& operator=(const EscapingSink&) = delete;
  void on_stdout(std::string_view data) override { check_output(sys::write_all(STDOUT_FILENO, m_out ? m_out->feed(data) : std::string(data))); }
  void on_stderr(std::string_view data) override { (void)sys::write_all(STDERR_FILENO, m_err ? m_err->feed(data) : std::string(data)); }

private:
  std::optional<TerminalEscaper> m_out, m_err;
};

class CaptureSink final : public session::OutputSink {
public:
  void on_stdout(std::string_view) override {}
  void on_stderr(std::string_view) override {}
};

void print_line(const nlohmann::ordered_json& event) {
  check_output(sys::write_all(STDOUT_FILENO, event.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n"));
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

// Forwards to another sink; the spinner waits while output is written.
class SpinnerSink final : public session::OutputSink {
public:
  SpinnerSink(std::unique_ptr<session::OutputSink> inner, bool utf8) : m_inner(std::move(inner)), m_spinner(utf8) {}
  ~SpinnerSink() override { m_spinner.stop(); }
  void on_stdout(std::string_view data) override { forward(data, &session::OutputSink::on_stdout); }
  void on_stderr(std::string_view data) override { forward(data, &session::OutputSink::on_stderr); }

private:
  void forward(std::string_view data, void (session::OutputSink::*to)(std::string_view)) {
    std::lock_guard lock(m_mutex);
    auto quiet = m_spinner.quiet();
    (m_inner.get()->*to)(data);
    if (!data.empty()) quiet.line_start(data.back() == '\n');
  }

  std::unique_ptr<session::OutputSink> m_inner;
  std::mutex m_mutex;
  repl::Spinner m_spinner;
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
  const char* no_color = std::getenv("NO_COLOR");
  const bool colour_allowed = no_color == nullptr || *no_color == '\0';
  // A stream that reaches a terminal is escaped (always, for the REPL): sandboxed
  // code must not move the cursor, set the title or send OSC sequences to the
  // user's terminal. A pipe or file gets the bytes as they are.
  auto for_stream = [&](int fd) -> std::optional<Sgr> {
    const bool tty = ::isatty(fd) == 1;
    if (!tty && escape == Escape::no) return std::nullopt;
    return tty && colour_allowed ? Sgr::pass : Sgr::escape;
  };
  auto out = for_stream(STDOUT_FILENO);
  auto err = for_stream(STDERR_FILENO);
  if (!out && !err) return std::make_unique<TerminalSink>();
  return std::make_unique<EscapingSink>(out, err);
}
std::unique_ptr<session::OutputSink> make_capture_sink() { return std::make_unique<CaptureSink>(); }

void print_human(const session::ExecResult& r) {
  std::vector<std::string> fetched, present;
  for (const auto& p : r.packages_installed) {
    const auto shown = fmt::format("{} {}", p.value("name", ""), p.value("version", ""));
    (p.value("cached", false) ? present : fetched).push_back(shown);
  }
  if (!fetched.empty() || !present.empty()) {
    std::string line = fetched.empty() ? "sandpit: already installed: " + fmt::format("{}", fmt::join(present, ", "))
                                       : fmt::format("sandpit: installed {}", fmt::join(fetched, ", "));
    if (!fetched.empty() && !present.empty()) line += fmt::format(" (already there: {})", fmt::join(present, ", "));
    (void)sys::write_all(STDERR_FILENO, line + "\n");
  }
  for (const auto& shown : r.displays) {
    if (shown.contains("text/plain") && shown["text/plain"].is_string()) (void)sys::write_all(STDOUT_FILENO, shown["text/plain"].get<std::string>() + "\n");
  }
  if (r.result && r.result->contains("text/plain")) {
    std::string text = (*r.result)["text/plain"].get<std::string>() + "\n";
    check_output(sys::write_all(STDOUT_FILENO, text));
  }
  for (const auto& image : r.images) {
    auto path = image.value("path", "");
    if (!path.empty()) check_output(sys::write_all(STDOUT_FILENO, fmt::format("[image: {}]\n", path)));
  }
  if (auto failure = session::sandbox_failure(r); !failure.empty()) {
    (void)sys::write_all(STDERR_FILENO, fmt::format("sandpit: {}\n", failure));
  }
}

void print_json(const session::ExecResult& r) {
  std::string text = session::to_json(r).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  check_output(sys::write_all(STDOUT_FILENO, text));
}

std::unique_ptr<session::OutputSink> with_spinner(std::unique_ptr<session::OutputSink> inner) {
  if (::isatty(STDERR_FILENO) != 1) return inner;
  std::setlocale(LC_CTYPE, "");
  const bool utf8 = std::string_view(::nl_langinfo(CODESET)) == "UTF-8";
  return std::make_unique<SpinnerSink>(std::move(inner), utf8);
}

} // namespace sandpit::cli
