#include "sandpit/util/units.hpp"

#include <doctest/doctest.h>

using namespace sandpit::units;

TEST_CASE("parse_duration, units and bare seconds") {
  CHECK(parse_duration("30s")->count() == 30'000);
  CHECK(parse_duration("2m")->count() == 120'000);
  CHECK(parse_duration("250ms")->count() == 250);
  CHECK(parse_duration("1.5s")->count() == 1500);
  CHECK(parse_duration("10")->count() == 10'000);
  CHECK_FALSE(parse_duration("lots"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("5 parsecs"));
}

TEST_CASE("parse_size, binary and decimal units") {
  CHECK(*parse_size("512MiB") == 512ULL << 20);
  CHECK(*parse_size("1GiB") == 1ULL << 30);
  CHECK(*parse_size("64k") == 65536);
  CHECK(*parse_size("100MB") == 100'000'000);
  CHECK(*parse_size("4096") == 4096);
  CHECK_FALSE(parse_size("lots"));
  CHECK_FALSE(parse_size("12 parsecs"));
}

TEST_CASE("format_duration and format_size round-trip") {
  CHECK(format_duration(Millis(30'000)) == "30s");
  CHECK(format_duration(Millis(120'000)) == "2m");
  CHECK(format_duration(Millis(1500)) == "1500ms");
  CHECK(format_size(512ULL << 20) == "512MiB");
  CHECK(format_size(1000) == "1000B");
  CHECK(*parse_size(format_size(3ULL << 30)) == 3ULL << 30);
}
