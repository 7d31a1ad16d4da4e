#include "sandpit/core/error.hpp"
#include "sandpit/files/files.hpp"

#include <doctest/doctest.h>

using namespace sandpit;

namespace {

std::string refusal(const std::string& text) {
  try {
    files::parse_sandbox_path(text);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    return e.subject() + ": " + e.reason();
  }
  return "";
}

} // namespace

TEST_CASE("parse_sandbox_path, relative to /workspace and normalised") {
  CHECK(files::parse_sandbox_path("data/x.csv").shown() == "/workspace/data/x.csv");
  CHECK(files::parse_sandbox_path("./a//b/../c").shown() == "/workspace/a/c");
  CHECK(files::parse_sandbox_path("/workspace").relative.empty());
  CHECK(files::parse_sandbox_path("/persist/m/n").area == files::Area::persist);
  CHECK(files::parse_sandbox_path("/persist/m/n").relative == "m/n");
  CHECK(files::parse_sandbox_path("//workspace/./x/").shown() == "/workspace/x");
  CHECK(files::parse_sandbox_path("a/..").shown() == "/workspace");
}

TEST_CASE("parse_sandbox_path, anything that leaves /workspace or /persist is refused") {
  CHECK(refusal("../x") == "../x: leaves /workspace ('..' above its root)");
  CHECK(refusal("a/../../x") == "a/../../x: leaves /workspace ('..' above its root)");
  CHECK(refusal("/persist/..") == "/persist/..: leaves /persist ('..' above its root)");
  CHECK(refusal("/etc/passwd") == "/etc/passwd: outside the sandbox's files (use a path under /workspace or /persist)");
  CHECK(refusal("/workspaces/x") == "/workspaces/x: outside the sandbox's files (use a path under /workspace or /persist)");
  CHECK(refusal("/") == "/: outside the sandbox's files (use a path under /workspace or /persist)");
  CHECK(refusal("") == "sandbox path: empty");
  CHECK(refusal(std::string("report.csv\0.bak", 15)) == "sandbox path: contains a NUL byte");
}

TEST_CASE("resolve_home_path, as a sandbox with a home names paths") {
  auto at = [](std::string_view text) {
    auto r = files::resolve_home_path(text, "/home/user");
    return std::pair(r.path.shown(), r.shown);
  };
  CHECK(at("") == std::pair<std::string, std::string>("/workspace", "/home/user"));
  CHECK(at("a.txt") == std::pair<std::string, std::string>("/workspace/a.txt", "/home/user/a.txt"));
  CHECK(at("~/d/../b.txt") == std::pair<std::string, std::string>("/workspace/b.txt", "/home/user/b.txt"));
  CHECK(at("/home/user/x/./y") == std::pair<std::string, std::string>("/workspace/x/y", "/home/user/x/y"));
  CHECK(at("/workspace/z") == std::pair<std::string, std::string>("/workspace/z", "/workspace/z"));
  CHECK(at("/tmp//t.txt") == std::pair<std::string, std::string>("/tmp/t.txt", "/tmp/t.txt"));
  CHECK(at("/persist") == std::pair<std::string, std::string>("/persist", "/persist"));
  // ".." climbs, but never above "/": the result is judged where it lands.
  CHECK(at("/home/user/../user/c") == std::pair<std::string, std::string>("/workspace/c", "/home/user/c"));
  CHECK(at("../../../tmp/x") == std::pair<std::string, std::string>("/tmp/x", "/tmp/x"));
  auto problem = [](std::string_view text) {
    try {
      files::resolve_home_path(text, "/home/user");
    } catch (const files::FileError& e) {
      return e.problem();
    }
    return files::Problem::failed;
  };
  CHECK(problem("/etc/passwd") == files::Problem::denied);
  CHECK(problem("/home/username") == files::Problem::denied);
  CHECK(problem("/home") == files::Problem::denied);
  CHECK(problem("../../etc") == files::Problem::denied);
  CHECK(problem("~root/x") == files::Problem::invalid);
  CHECK(problem(std::string_view("a\0b", 3)) == files::Problem::invalid);
}
