// screen_toml: a byte-level check that runs before toml++ sees a config file.
//
// toml++ 3.3.0 (Debian 12) reaches TOML_UNREACHABLE, i.e. undefined
// behaviour, on some non-ASCII input outside strings (upstream issues #190,
// #295, fixed after 3.3.0); our fuzzer found it too. TOML needs non-ASCII
// text only inside strings and comments, so we refuse it anywhere else, and
// refuse invalid UTF-8 and control characters (TOML allows neither) everywhere,
// with a position, before parsing.
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
  bool after_line_backslash = false; // in a basic string, after a "\" and whitespace
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_length(text, i);
    if (n == 0) return ScreenError{line, column, "invalid UTF-8"};
    const char c = text[i];
    const bool ascii = n == 1;
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t' && c != '\n' && c != '\r') || byte == 0x7F) {
      return ScreenError{line, column, fmt::format("a control character (0x{:02X})", byte)};
    }
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
    case State::ml_basic:
      // After a backslash followed by whitespace, toml++ trims whitespace and
      // classifies the next character with the function that goes wrong on
      // non-ASCII input: refuse that, in either kind of basic string.
      if (after_line_backslash && !ascii) return ScreenError{line, column, "a non-ASCII character after a backslash and whitespace"};
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') after_line_backslash = false;
      if (c == '\\') {
        char next = i + 1 < text.size() ? text[i + 1] : '\0';
        if (next == ' ' || next == '\t' || next == '\n' || next == '\r') after_line_backslash = true;
        else advance = 2;
      } else if (state == State::ml_basic && starts("\"\"\"")) {
        state = State::normal, advance = 3;
      } else if (state == State::basic && (c == '"' || c == '\n')) {
        state = State::normal;
      }
      break;
    case State::literal:
      if (c == '\'' || c == '\n') state = State::normal;
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

std::string ascii_stand_in(std::string_view text) {
  std::string out;
  bool any = false;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_length(text, i);
    if (n <= 1) {
      out += text[i];
      ++i;
      continue;
    }
    out += '!';
    any = true;
    i += n;
  }
  return any ? out : std::string();
}

} // namespace sandpit::config
