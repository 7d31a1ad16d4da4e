#include "../../../src/mcp/arguments.hpp"

#include <doctest/doctest.h>

using namespace sandpit::mcp;
using nlohmann::json;

namespace {
std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const BadArgument& e) {
    return e.what();
  }
  return "(accepted)";
}
} // namespace

TEST_CASE("Arguments, each kind checked with a message that names the argument") {
  json a = {{"code", "1+1"}, {"language", "rust"}, {"timeout", -1}, {"session", "../x"}, {"wipe", "yes"}};
  CHECK(refusal([&] { Arguments(a, {"code", "language", "timeout", "session"}); }) ==
        "unknown argument 'wipe' (this tool takes code, language, timeout, session)");
  CHECK(refusal([&] { Arguments(json{{"langauge", "js"}}, {"code", "language"}); }) ==
        "unknown argument 'langauge' (did you mean 'language'?) (this tool takes code, language)");
  a.erase("wipe");
  Arguments args(a, {"code", "language", "timeout", "session"});
  CHECK(args.required_string("code", 100) == "1+1");
  CHECK(refusal([&] { (void)args.required_string("code", 2); }) == "'code' is longer than 2 bytes");
  CHECK(refusal([&] { (void)args.choice("language", {"python", "javascript", "bash"}, "python"); }) ==
        "'language' must be one of python, javascript, bash, got \"rust\"");
  CHECK(refusal([&] { (void)args.positive_number("timeout", 600, "10m"); }) == "'timeout' must be greater than 0, got -1");
  CHECK(refusal([&] { (void)args.session(); }).rfind("'session' must be 1-64 letters", 0) == 0);
  Arguments none(json::object(), {"code", "timeout", "session", "flag"});
  CHECK(refusal([&] { (void)none.required_string("code", 10); }) == "'code' is required");
  CHECK_FALSE(none.positive_number("timeout", 600, "10m").has_value());
  CHECK(none.session() == "default");
  CHECK(none.boolean("flag", true));
  Arguments wrong(json{{"code", 5}, {"timeout", 601}, {"flag", 1}}, {"code", "timeout", "flag"});
  CHECK(refusal([&] { (void)wrong.required_string("code", 10); }) == "'code' must be a string, got a number");
  CHECK(refusal([&] { (void)wrong.positive_number("timeout", 600, "10m"); }) == "'timeout' may be at most 10m, got 601");
  CHECK(refusal([&] { (void)wrong.boolean("flag", false); }) == "'flag' must be true or false, got 1");
}

TEST_CASE("Arguments, a NUL byte is refused in names and paths, where it would cut them short") {
  Arguments args(json{{"path", std::string("report.csv\0.bak", 15)}, {"code", std::string("x\0", 2)}}, {"path", "code"});
  CHECK(refusal([&] { (void)args.string("path", 100); }) == "'path' contains a NUL byte");
  CHECK(args.required_string("code", 100).size() == 2); // the interpreter refuses it, with its own message
}

TEST_CASE("valid_session_name, a folder name that cannot leave its folder") {
  CHECK(valid_session_name("default"));
  CHECK(valid_session_name("agent-7.run_2"));
  CHECK_FALSE(valid_session_name(""));
  CHECK_FALSE(valid_session_name(".."));
  CHECK_FALSE(valid_session_name(".hidden"));
  CHECK_FALSE(valid_session_name("a/b"));
  CHECK_FALSE(valid_session_name(std::string(65, 'a')));
}
