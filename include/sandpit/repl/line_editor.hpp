// Where the REPL's lines come from: libedit on a terminal, plain reads otherwise (the seam of SQLite's shell).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::repl {

struct Line {
  enum class Status { line, interrupted, eof };
  Status status = Status::eof;
  std::string text; // without its newline
};

// What Tab does with the text before the cursor: insert `insert`, or list
// `choices` when they share nothing more than what is typed.
struct Completion {
  std::string insert;
  std::vector<std::string> choices;
};
using Completer = std::function<Completion(std::string_view before_cursor)>;

class LineEditor {
public:
  virtual ~LineEditor() = default;
  // Shows `prompt` (a terminal only) and reads one line. Ctrl-C gives
  // Status::interrupted with the line discarded; Ctrl-D on an empty line or the end of input, Status::eof.
  virtual Line read_line(const std::string& prompt) = 0;
  // Remembers a line for recall, and in the history file if there is one.
  virtual void remember(const std::string& line) = 0;
};

// libedit (emacs keys) on the terminal on stdin/stdout; history kept in
// `history_file` (loaded now, saved as lines are remembered); Tab asks `completer`.
std::unique_ptr<LineEditor> make_terminal_editor(const std::filesystem::path& history_file, Completer completer);
// Lines read from `fd` as they are: no prompt, no history.
std::unique_ptr<LineEditor> make_plain_reader(int fd);

} // namespace sandpit::repl
