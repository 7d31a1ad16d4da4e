#include "sandpit/util/terminal.hpp"

#include <doctest/doctest.h>

using sandpit::escape_terminal;
using sandpit::Sgr;
using sandpit::TerminalEscaper;

TEST_CASE("escape_terminal, plain text, newlines, tabs and UTF-8 pass unchanged") {
  CHECK(escape_terminal("hello\tworld\r\n", Sgr::escape) == "hello\tworld\r\n");
  CHECK(escape_terminal("caf\xC3\xA9 \xE2\x9D\xAF \xF0\x9F\x90\x8D", Sgr::escape) == "caf\xC3\xA9 \xE2\x9D\xAF \xF0\x9F\x90\x8D");
}

TEST_CASE("escape_terminal, C0 controls and DEL become caret notation") {
  CHECK(escape_terminal("bell\a back\b nul", Sgr::pass) == "bell^G back^H nul");
  CHECK(escape_terminal(std::string("a\0b", 3), Sgr::pass) == "a^@b");
  CHECK(escape_terminal("x\x7fy", Sgr::pass) == "x^?y");
}

TEST_CASE("escape_terminal, cursor moves, clears, titles, OSC 52 and DCS are shown, never sent") {
  CHECK(escape_terminal("\x1b[2J\x1b[H", Sgr::pass) == "^[[2J^[[H");
  CHECK(escape_terminal("\x1b]0;pwned\x07", Sgr::pass) == "^[]0;pwned^G");
  CHECK(escape_terminal("\x1b]52;c;aGk=\x1b\\", Sgr::pass) == "^[]52;c;aGk=^[\\");
  CHECK(escape_terminal("\x1bP1$r\x1b\\", Sgr::pass) == "^[P1$r^[\\");
  CHECK(escape_terminal("\x1b[6n", Sgr::pass) == "^[[6n");
  CHECK(escape_terminal("\x1b" "c", Sgr::pass) == "^[c");
}

TEST_CASE("escape_terminal, SGR colours pass only when allowed") {
  CHECK(escape_terminal("\x1b[1;31mred\x1b[0m", Sgr::pass) == "\x1b[1;31mred\x1b[0m");
  CHECK(escape_terminal("\x1b[38:5:208mx\x1b[m", Sgr::pass) == "\x1b[38:5:208mx\x1b[m");
  CHECK(escape_terminal("\x1b[1;31mred\x1b[0m", Sgr::escape) == "^[[1;31mred^[[0m");
  // A private-mode sequence ending in 'm' is not SGR.
  CHECK(escape_terminal("\x1b[?1m", Sgr::pass) == "^[[?1m");
}

TEST_CASE("escape_terminal, C1 controls and bytes that are not UTF-8 are escaped") {
  CHECK(escape_terminal("a\xC2\x9B" "2Jb", Sgr::pass) == "a\\u009b2Jb");
  CHECK(escape_terminal("\x9b" "31m", Sgr::pass) == "\\x9b31m");
  CHECK(escape_terminal("\xff\xC3", Sgr::pass) == "\\xff\\xc3");
}

TEST_CASE("TerminalEscaper::feed, sequences and characters split across chunks") {
  TerminalEscaper pass(Sgr::pass);
  CHECK(pass.feed("a\x1b") == "a");
  CHECK(pass.feed("[3") == "");
  CHECK(pass.feed("2mgreen") == "\x1b[32mgreen");
  CHECK(pass.feed("\xE2\x9D") == "");
  CHECK(pass.feed("\xAF!") == "\xE2\x9D\xAF!");
  CHECK(pass.feed("\x1b[") == "");
  CHECK(pass.feed("2J") == "^[[2J");
  CHECK(pass.feed("end\x1b") == "end");
  CHECK(pass.flush() == "^[");
  CHECK(pass.flush() == "");
  TerminalEscaper strict(Sgr::escape);
  CHECK(strict.feed("\x1b") == "");
  CHECK(strict.feed("[0m") == "^[[0m");
}

TEST_CASE("TerminalEscaper::feed, an endless parameter run is escaped, not held") {
  TerminalEscaper pass(Sgr::pass);
  std::string params(200, '1');
  auto out = pass.feed("\x1b[" + params);
  CHECK(out.substr(0, 3) == "^[[");
  CHECK(pass.flush().empty());
}
