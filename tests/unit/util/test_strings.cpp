#include "sandpit/util/strings.hpp"

#include <doctest/doctest.h>

using namespace sandpit::strings;

TEST_CASE("split and join, round trip") {
  CHECK(split("a,b,,c", ',') == std::vector<std::string>{"a", "b", "", "c"});
  CHECK(join({"a", "b"}, ", ") == "a, b");
}

TEST_CASE("closest, suggests likely typos only") {
  std::vector<std::string> keys{"limits.timeout", "limits.memory", "network.enabled"};
  CHECK(closest("limits.timout", keys) == "limits.timeout");
  CHECK(closest("limits.mem", keys) == "limits.memory");
  CHECK(closest("colour", keys).empty());
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("exce", "exec") == 1);
  CHECK(edit_distance("exce", "exit") == 2);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(sandpit::strings::closest("exce", {"exit", "exec", "shell"}) == "exec");
}

TEST_CASE("strings::one_line, control characters cannot forge or drive output") {
  CHECK(sandpit::strings::one_line("plain caf\xc3\xa9") == "plain caf\xc3\xa9");
  CHECK(sandpit::strings::one_line("a\nb") == "a\\x0ab");
  CHECK(sandpit::strings::one_line("esc\x1b[31mRED") == "esc\\x1b[31mRED");
  CHECK(sandpit::strings::one_line("c1 \xc2\x9b" "2J") == "c1 \\u009b2J");
  CHECK(sandpit::strings::one_line("del\x7f") == "del\\x7f");
}

TEST_CASE("strings::wrap_words, lines of at most the width, a long word on its own") {
  using sandpit::strings::wrap_words;
  CHECK(wrap_words("the quick brown fox", 9) == std::vector<std::string>{"the quick", "brown fox"});
  CHECK(wrap_words("a  b", 10) == std::vector<std::string>{"a b"});
  CHECK(wrap_words("x /a/very/long/path y", 6) == std::vector<std::string>{"x", "/a/very/long/path", "y"});
  CHECK(wrap_words("", 5) == std::vector<std::string>{""});
  CHECK(wrap_words("été à la", 5) == std::vector<std::string>{"été à", "la"}); // columns, not bytes
}

TEST_CASE("strings::flow, items joined with a dot, a new line before one that does not fit") {
  using sandpit::strings::flow;
  CHECK(flow({"pid 1", "up 3s", "60 runs"}, 40, "  ") == "  pid 1 · up 3s · 60 runs\n");
  CHECK(flow({"pid 1", "up 3s", "60 runs"}, 16, "  ") == "  pid 1 · up 3s\n  60 runs\n");
  CHECK(flow({"a-very-long-item"}, 8, "  ") == "  a-very-long-item\n");
}
