// screen_toml: a byte-level check that runs before toml++ sees a config file.
//
// toml++ 3.3.0 (Debian 12) reaches TOML_UNREACHABLE, i.e. undefined
// behaviour, on some non-ASCII input outside strings (upstream issues #190,
// #295, fixed after 3.3.0); our fuzzer found it too. TOML needs non-ASCII
// text only inside strings and comments, so we refuse it anywhere else, and
// refuse invalid UTF-8 everywhere, with a position, before parsing.
#include "screen.hpp"

#include <fmt/format.h>

namespace sandpit::config {
namespace {

// Length of the UTF-8 sequence starting at `s[i]`, or 0 if it is not valid UTF-8.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

enum class State { normal, comment, basic, literal, ml_basic, ml_literal };

} // namespace

std::optional<ScreenError> screen_toml(std::string_view text) {
  State state = State::normal;
  std::size_t line = 1, column = 1;
  bool after_line_backslash = false; // in a multi-line basic string, trimming after a line-ending "\"
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_length(text, i);
    if (n == 0) return ScreenError{line, column, "invalid UTF-8"};
    const char c = text[i];
    const bool ascii = n == 1;
    auto starts = [&](std::string_view token) { return text.substr(i, token.size()) == token; };
    std::size_t advance = n;
    switch (state) {
    case State::normal:
      if (!ascii) return ScreenError{line, column, "a non-ASCII character outside a string or comment"};
      if (c == '#') state = State::comment;
      else if (starts("\"\"\"")) state = State::ml_basic, advance = 3;
      else if (starts("'''")) state = State::ml_literal, advance = 3;
      else if (c == '"') state = State::basic;
      else if (c == '\'') state = State::literal;
      break;
    case State::comment:
      if (c == '\n') state = State::normal;
      break;
    case State::basic:
      if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') advance = 2;
      else if (c == '"' || c == '\n') state = State::normal;
      break;
    case State::literal:
      if (c == '\'' || c == '\n') state = State::normal;
      break;
    case State::ml_basic:
      if (after_line_backslash && !ascii) return ScreenError{line, column, "a non-ASCII character right after a line-ending backslash"};
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') after_line_backslash = false;
      if (c == '\\') {
        std::size_t j = i + 1;
        while (j < text.size() && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r')) ++j;
        if (j < text.size() && text[j] == '\n') after_line_backslash = true;
        else advance = 2;
      } else if (starts("\"\"\"")) {
        state = State::normal, advance = 3;
      }
      break;
    case State::ml_literal:
      if (starts("'''")) state = State::normal, advance = 3;
      break;
    }
    for (std::size_t k = 0; k < advance && i < text.size(); ++k, ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        ++column;
      }
    }
  }
  return std::nullopt;
}

} // namespace sandpit::config
