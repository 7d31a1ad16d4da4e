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
  CHECK(parse_language("bash") == Language::bash);
  CHECK(parse_language("sh") == Language::bash);
  CHECK_FALSE(parse_language("Python"));
  CHECK_FALSE(parse_language(""));
}

TEST_CASE("language_for_file, by extension only") {
  CHECK(language_for_file("plot.py") == Language::python);
  CHECK(language_for_file("dir.v2/app.mjs") == Language::javascript);
  CHECK(language_for_file("run.sh") == Language::bash);
  CHECK_FALSE(language_for_file("dir.py/README"));
  CHECK_FALSE(language_for_file("Makefile"));
}

TEST_CASE("drivers, are embedded") {
  CHECK(python_driver().find("def _driver") != std::string_view::npos);
  CHECK(node_driver().find("runInThisContext") != std::string_view::npos);
}
