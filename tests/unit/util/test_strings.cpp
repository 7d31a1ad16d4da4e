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
