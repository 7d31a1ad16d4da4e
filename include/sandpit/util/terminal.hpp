// TerminalEscaper: makes bytes from sandboxed code safe to write to the user's terminal.
#pragma once

#include <string>
#include <string_view>

namespace sandpit {

// Whether SGR (colour) sequences may reach the terminal: only on a TTY without NO_COLOR.
enum class Sgr { pass, escape };

// Sandboxed code must not drive the user's terminal: move the cursor, clear
// the screen, set the title, write the clipboard (OSC 52), query it (the
// answer would arrive as typed input). C0 controls other than \n, \r and \t
// become caret notation ("^[", "^G"), DEL "^?", C1 controls "\u009b", bytes
// that are not UTF-8 "\xff". An ESC that does not start a permitted SGR
// sequence is shown as "^[" and what follows it is printed as plain text.
// Streaming: a sequence or character split across chunks is held back until
// the next feed (at most a few dozen bytes).
class TerminalEscaper {
public:
  explicit TerminalEscaper(Sgr sgr) : m_sgr(sgr) {}
  // The safe text for `data`, less any incomplete tail, which is kept for the next call.
  std::string feed(std::string_view data);
  // What is held back, escaped; the escaper is then empty.
  std::string flush();

private:
  Sgr m_sgr;
  std::string m_pending;
};

// The whole of `data`, escaped (feed + flush).
std::string escape_terminal(std::string_view data, Sgr sgr);

// The width of the terminal on `fd`, in columns; 0 when `fd` is not a terminal
// (output to a file or pipe is never shaped to a width).
std::size_t terminal_columns(int fd);

} // namespace sandpit
