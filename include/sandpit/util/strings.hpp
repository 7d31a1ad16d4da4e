// Small string helpers shared by every layer: splitting, joining, suggestions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sandpit::strings {

std::vector<std::string> split(std::string_view text, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view text, std::string_view prefix);

// Length of the longest prefix of `data` that does not end inside a UTF-8
// character (an incomplete sequence at the end is left for the next chunk).
std::size_t complete_utf8_prefix(std::string_view data);

// Edit distance (insertions, deletions, substitutions, swaps of neighbours), for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);
// `text` on one line and harmless to a terminal: C0 and C1 control characters and DEL
// become \xNN (so a newline or an escape sequence in a file name cannot forge output).
std::string one_line(std::string_view text);

// Columns `text` takes on a terminal, one per UTF-8 character (wide CJK characters are not special-cased).
std::size_t columns(std::string_view text);

// `text` broken at spaces into lines of at most `width` columns (a word longer than
// that keeps a line of its own). Runs of spaces between words become one.
std::vector<std::string> wrap_words(std::string_view text, std::size_t width);

// `items` joined with " · ", one or more lines of at most `width` columns, each
// starting with `indent`; a new line starts before an item that would not fit.
std::string flow(const std::vector<std::string>& items, std::size_t width, std::string_view indent);

// The candidate closest to `word` if it is close enough to be a likely typo, else "".
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

} // namespace sandpit::strings
