// How a cell's output reaches the terminal: escaped, stderr coloured, a spinner while it is quiet, results and images after.
#pragma once

#include "sandpit/repl/repl.hpp"
#include "sandpit/repl/spinner.hpp"
#include "sandpit/session/execution.hpp"
#include "sandpit/util/terminal.hpp"

#include <functional>
#include <memory>
#include <mutex>

namespace sandpit::repl {

struct Style {
  bool color = false;       // a TTY without NO_COLOR: stderr in red, SGR from the code passes
  bool interactive = false; // Out[n]: lines, a spinner
  bool utf8 = false;        // the locale can show "❯" and the spinner's braille
};

// Which inline image protocol the terminal speaks, from its environment alone
// (no query: an unanswered query would leave bytes in the user's input).
enum class ImageProtocol { none, kitty, iterm };
ImageProtocol detect_image_protocol(const std::function<const char*(const char*)>& getenv);

// The escape sequence that shows a PNG inline; "" unless `base64` is nothing but base64.
std::string inline_image(ImageProtocol protocol, const std::string& base64);

// Streams one cell's output. With a spinner, a quiet second shows the elapsed
// time on stderr until output arrives or finish() is called.
class CellSink final : public session::OutputSink {
public:
  CellSink(const Style& style, bool spinner);
  ~CellSink() override;
  CellSink(const CellSink&) = delete;
  CellSink& operator=(const CellSink&) = delete;

  void on_stdout(std::string_view data) override;
  void on_stderr(std::string_view data) override;
  // Stops the spinner, writes what the escapers held back, ends a partial line.
  void finish();

private:
  void write(int fd, std::string_view data, TerminalEscaper& escaper);

  Style m_style;
  TerminalEscaper m_out, m_err;
  std::mutex m_mutex;
  bool m_line_start = true;
  std::unique_ptr<Spinner> m_spinner;
};

// After the output: "Out[n]: value" (the bare value in batch mode), each image's
// path (and the image inline when `protocol` allows), and any failure the sandbox reported.
void print_result(const session::ExecResult& result, const Style& style, ImageProtocol protocol);

} // namespace sandpit::repl
