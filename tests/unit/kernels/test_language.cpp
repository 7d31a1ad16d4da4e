#include "sandpit/kernels/drivers.hpp"
#include "sandpit/kernels/language.hpp"

#include <doctest/doctest.h>

using namespace sandpit::kernels;

TEST_CASE("parse_language, names and aliases") {
  CHECK(parse_language("python") == Language::python);
  CHECK(parse_language("py") == Language::python);
  CHECK(parse_language("javascript") == Language::javascript);
  CHECK(parse_language("js") == Language::javascript);
  CHECK(parse_language("node") == Language::javascript);
  CHECK(parse_language("typescript") == Language::typescript);
  CHECK(parse_language("ts") == Language::typescript);
  CHECK(parse_language("bash") == Language::bash);
  CHECK(parse_language("sh") == Language::bash);
  CHECK_FALSE(parse_language("Python"));
  CHECK_FALSE(parse_language(""));
  CHECK_FALSE(parse_language("TS"));
  CHECK_FALSE(parse_language("tsx"));
}

TEST_CASE("name_of, the canonical name every alias maps to") {
  for (const auto& name : language_names()) {
    auto language = parse_language(name);
    REQUIRE(language);
    CHECK(parse_language(name_of(*language)) == language);
  }
  CHECK(name_of(Language::typescript) == "typescript");
  CHECK(language_list() == "python, javascript, typescript or bash");
}

TEST_CASE("kernel_of, TypeScript runs in the Node.js kernel") {
  CHECK(kernel_of(Language::typescript) == Language::javascript);
  CHECK(kernel_of(Language::javascript) == Language::javascript);
  CHECK(kernel_of(Language::python) == Language::python);
  CHECK(kernel_of(Language::bash) == Language::bash);
  CHECK(driver_source(Language::typescript) == node_driver());
}

TEST_CASE("language_for_file, by extension only") {
  CHECK(language_for_file("plot.py") == Language::python);
  CHECK(language_for_file("dir.v2/app.mjs") == Language::javascript);
  CHECK(language_for_file("run.sh") == Language::bash);
  CHECK(language_for_file("app.ts") == Language::typescript);
  CHECK(language_for_file("lib/esm.mts") == Language::typescript);
  CHECK(language_for_file("lib/cjs.cts") == Language::typescript);
  CHECK_FALSE(language_for_file("view.tsx")); // JSX is not TypeScript's loader
  CHECK_FALSE(language_for_file("types.d.ts/x"));
  CHECK_FALSE(language_for_file("dir.py/README"));
  CHECK_FALSE(language_for_file("Makefile"));
}

TEST_CASE("drivers, are embedded") {
  CHECK(python_driver().find("def _driver") != std::string_view::npos);
  CHECK(node_driver().find("runInThisContext") != std::string_view::npos);
  // TypeScript's half comes first, so that its 'use strict' opens the driver.
  CHECK(node_driver().find("const typescriptCells") < node_driver().find("runInThisContext"));
  CHECK(node_driver().find("'use strict';") < node_driver().find("const typescriptCells"));
}
