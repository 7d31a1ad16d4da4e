// Tab completion and the parsing of dot-command lines: words, names, "did you mean".
#pragma once

#include "sandpit/repl/line_editor.hpp"
#include "sandpit/util/result.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace sandpit::repl {

// Splits a dot-command's arguments like a POSIX shell would: blanks separate
// words; '...' is literal; "..." and a backslash escape. A Failure for an unclosed quote.
Result<std::vector<std::string>> split_words(std::string_view text);

// The names completion offers: dot-commands (without the dot) and each one's options.
struct CompletionTable {
  std::vector<std::string> commands;
  std::function<std::vector<std::string>(const std::string& command)> options_of;
};

// What Tab does for `before` (the line up to the cursor): a dot-command's
// name, then its options ("-...") or host file paths; file paths after "!";
// in code, four spaces where the line is blank so far (indentation), else nothing.
Completion complete(std::string_view before, const CompletionTable& table);

// The longest common prefix of `words`.
std::string common_prefix(const std::vector<std::string>& words);

} // namespace sandpit::repl
