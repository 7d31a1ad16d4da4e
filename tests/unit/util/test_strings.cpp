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
