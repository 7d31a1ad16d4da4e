#include "sandpit/repl/output.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"

#include <cstring>
#include <fmt/format.h>
#include <string_view>
#include <unistd.h>

namespace sandpit::repl {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::string_view k_red = "\x1b[31m";
constexpr std::string_view k_reset = "\x1b[0m";
constexpr auto k_quiet_before_spinner = 1s;

bool is_base64(const std::string& text) {
  return !text.empty() && text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == std::string::npos;
}

bool equals(const char* value, std::string_view expected) { return value != nullptr && expected == value; }

} // namespace

ImageProtocol detect_image_protocol(const std::function<const char*(const char*)>& getenv) {
  // tmux and screen swallow both protocols unless told to pass them through.
  if (getenv("TMUX") != nullptr || getenv("STY") != nullptr) return ImageProtocol::none;
  if (equals(getenv("TERM"), "xterm-kitty") || getenv("KITTY_WINDOW_ID") != nullptr) return ImageProtocol::kitty;
  if (equals(getenv("TERM_PROGRAM"), "iTerm.app") || equals(getenv("TERM_PROGRAM"), "WezTerm")) return ImageProtocol::iterm;
  return ImageProtocol::none;
}

std::string inline_image(ImageProtocol protocol, const std::string& base64) {
  if (protocol == ImageProtocol::none || !is_base64(base64)) return "";
  if (protocol == ImageProtocol::iterm) {
    return fmt::format("\x1b]1337;File=inline=1;size={}:{}\a\n", base64.size() / 4 * 3, base64);
  }
  // kitty: PNG (f=100), transmitted and shown (a=T), in chunks of at most 4096 bytes.
  std::string out;
  for (std::size_t at = 0; at < base64.size(); at += 4096) {
    bool more = at + 4096 < base64.size();
    out += fmt::format("\x1b_G{}m={};{}\x1b\\", at == 0 ? "a=T,f=100," : "", more ? 1 : 0, base64.substr(at, 4096));
  }
  return out + "\n";
}

CellSink::CellSink(const Style& style, bool spinner)
    : m_style(style), m_out(style.color ? Sgr::pass : Sgr::escape), m_err(style.color ? Sgr::pass : Sgr::escape),
      m_started(Clock::now()), m_last_output(m_started) {
  if (spinner) m_spinner = std::thread([this] { spin(); });
}

CellSink::~CellSink() {
  // After a failed write, while the OutputError unwinds: stop the spinner, write no more.
  try {
    finish();
  } catch (const OutputError&) {
  }
}

void CellSink::on_stdout(std::string_view data) { write(STDOUT_FILENO, data, m_out); }
void CellSink::on_stderr(std::string_view data) { write(STDERR_FILENO, data, m_err); }

void CellSink::write(int fd, std::string_view data, TerminalEscaper& escaper) {
  std::lock_guard lock(m_mutex);
  clear_spinner();
  m_last_output = Clock::now();
  auto text = escaper.feed(data);
  if (text.empty()) return;
  m_line_start = text.back() == '\n';
  if (fd == STDERR_FILENO && m_style.color) text = fmt::format("{}{}{}", k_red, text, k_reset);
  auto written = sys::write_all(fd, text);
  if (fd == STDOUT_FILENO) check_output(written);
}

void CellSink::finish() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  if (m_spinner.joinable()) m_spinner.join();
  std::lock_guard lock(m_mutex);
  clear_spinner();
  auto out = m_out.flush();
  auto err = m_err.flush();
  if (!out.empty()) check_output(sys::write_all(STDOUT_FILENO, out));
  if (!err.empty()) (void)sys::write_all(STDERR_FILENO, m_style.color ? fmt::format("{}{}{}", k_red, err, k_reset) : err);
  if (!out.empty() || !err.empty()) m_line_start = false;
  if (!m_line_start) check_output(sys::write_all(STDOUT_FILENO, "\n"));
  m_line_start = true;
}

void CellSink::clear_spinner() {
  if (!m_drawn) return;
  (void)sys::write_all(STDERR_FILENO, "\r\x1b[K");
  m_drawn = false;
}

void CellSink::spin() {
  static constexpr std::string_view k_braille[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
  static constexpr std::string_view k_ascii[] = {"|", "/", "-", "\\"};
  std::unique_lock lock(m_mutex);
  for (std::size_t frame = 0; !m_stop; ++frame) {
    m_wake.wait_for(lock, 100ms);
    auto now = Clock::now();
    // Only at the start of a line: "\r" must not wipe a partial line of output.
    if (m_stop || now - m_last_output < k_quiet_before_spinner || !m_line_start) continue;
    auto glyph = m_style.utf8 ? k_braille[frame % 10] : k_ascii[frame % 4];
    double seconds = std::chrono::duration<double>(now - m_started).count();
    (void)sys::write_all(STDERR_FILENO, fmt::format("\r\x1b[K{} {:.1f}s", glyph, seconds));
    m_drawn = true;
  }
}

void print_result(const session::ExecResult& r, const Style& style, ImageProtocol protocol) {
  const Sgr sgr = style.color ? Sgr::pass : Sgr::escape;
  if (r.result && r.result->contains("text/plain") && (*r.result)["text/plain"].is_string()) {
    auto value = escape_terminal((*r.result)["text/plain"].get<std::string>(), sgr);
    std::string label = style.interactive ? fmt::format("Out[{}]: ", r.execution_count) : "";
    if (style.color) label = fmt::format("{}{}{}", k_red, label, k_reset);
    check_output(sys::write_all(STDOUT_FILENO, label + value + "\n"));
  }
  for (const auto& image : r.images) {
    auto path = image.value("path", "");
    if (!path.empty()) check_output(sys::write_all(STDOUT_FILENO, fmt::format("[image: {}]\n", escape_terminal(path, Sgr::escape))));
    if (auto shown = inline_image(protocol, image.value("base64", "")); !shown.empty()) check_output(sys::write_all(STDOUT_FILENO, shown));
  }
  if (auto failure = session::sandbox_failure(r); !failure.empty()) {
    (void)sys::write_all(STDERR_FILENO, fmt::format("sandpit: {}\n", escape_terminal(failure, Sgr::escape)));
  }
}

} // namespace sandpit::repl
