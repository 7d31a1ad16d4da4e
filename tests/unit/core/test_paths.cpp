#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"

#include <cstdlib>
#include <doctest/doctest.h>

using namespace sandpit;

TEST_CASE("Workspace::resolve, id is stable, named after the folder, state under XDG_STATE_HOME") {
  ::setenv("XDG_STATE_HOME", "/tmp/sandpit-unit-state", 1);
  auto a = Workspace::resolve("/tmp");
  auto b = Workspace::resolve("/tmp/");
  CHECK(a.id == b.id);
  CHECK(a.id.rfind("tmp-", 0) == 0);
  CHECK(a.state_dir == fs::path("/tmp/sandpit-unit-state/sandpit/workspaces") / a.id);
  CHECK(a.files_dir == a.state_dir / "files");
  CHECK(Workspace::resolve("/usr").id != a.id);
}

TEST_CASE("Workspace::resolve, a missing directory is a usage error") {
  try {
    (void)Workspace::resolve("/no/such/dir");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    CHECK(e.subject() == "workspace /no/such/dir");
  }
}
