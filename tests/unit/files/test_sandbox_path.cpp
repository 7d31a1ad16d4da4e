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
