#include "sandpit/repl/output.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"

#include <cstring>
#include <optional>
#include <fmt/format.h>
#include <string_view>
#include <unistd.h>

namespace sandpit::repl {
namespace {


constexpr std::string_view k_red = "\x1b[31m";
constexpr std::string_view k_reset = "\x1b[0m";

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
      m_spinner(spinner ? std::make_unique<Spinner>(style.utf8) : nullptr) {}

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
  std::optional<Spinner::Quiet> quiet;
  if (m_spinner) quiet.emplace(*m_spinner);
  auto text = escaper.feed(data);
  if (text.empty()) return;
  m_line_start = text.back() == '\n';
  if (quiet) quiet->line_start(m_line_start);
  if (fd == STDERR_FILENO && m_style.color) text = fmt::format("{}{}{}", k_red, text, k_reset);
  auto written = sys::write_all(fd, text);
  if (fd == STDOUT_FILENO) check_output(written);
}

void CellSink::finish() {
  if (m_spinner) m_spinner->stop();
  std::lock_guard lock(m_mutex);
  auto out = m_out.flush();
  auto err = m_err.flush();
  if (!out.empty()) check_output(sys::write_all(STDOUT_FILENO, out));
  if (!err.empty()) (void)sys::write_all(STDERR_FILENO, m_style.color ? fmt::format("{}{}{}", k_red, err, k_reset) : err);
  if (!out.empty() || !err.empty()) m_line_start = false;
  if (!m_line_start) check_output(sys::write_all(STDOUT_FILENO, "\n"));
  m_line_start = true;
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
