#include "sandpit/audit/time.hpp"

#include <doctest/doctest.h>

using namespace sandpit::audit;

namespace {
constexpr std::int64_t k_day = 1736035200000 - 1735948800000; // ms in a day
constexpr std::int64_t k_jan4 = 1735948800000;                // 2025-01-04T00:00:00Z
} // namespace

TEST_CASE("format_ts and parse_ts") {
  CHECK(format_ts(1736019045123) == "2025-01-04T19:30:45.123Z");
  CHECK(format_ts(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_ts(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(parse_ts("2025-01-04T19:30:45.123Z") == 1736019045123);
  CHECK_FALSE(parse_ts("2025-01-04T19:30:45Z"));
  CHECK_FALSE(parse_ts("2025-02-30T19:30:45.123Z"));
}

TEST_CASE("parse_time, ISO 8601") {
  std::int64_t now = 0;
  CHECK(parse_time("2025-01-04", now) == k_jan4);
  CHECK(parse_time("2025-01-04T19:30", now) == k_jan4 + (19 * 60 + 30) * 60000LL);
  CHECK(parse_time("2025-01-04T19:30:45", now) == 1736019045000);
  CHECK(parse_time("2025-01-04T19:30:45.123Z", now) == 1736019045123);
  CHECK(parse_time("2025-01-04 19:30:45.1", now) == 1736019045100);
  CHECK(parse_time("2025-01-04T19:30:45+02:00", now) == 1736019045000 - 2 * 3600000);
  CHECK(parse_time("2025-01-04T19:30:45-0530", now) == 1736019045000 + 330 * 60000);
  CHECK(parse_time("2025-01-04Z", now) == k_jan4);
  CHECK(parse_time("2025-01-05", now) == k_jan4 + k_day);
}

TEST_CASE("parse_time, durations ago") {
  std::int64_t now = 1736019045123;
  CHECK(parse_time("90s", now) == now - 90000);
  CHECK(parse_time("30m", now) == now - 1800000);
  CHECK(parse_time("2h", now) == now - 7200000);
  CHECK(parse_time("7d", now) == now - 7 * k_day);
  CHECK(parse_time("1w", now) == now - 7 * k_day);
}

TEST_CASE("parse_time, rejects") {
  for (const char* bad : {"", "yesterday", "2h30m", "s", "-5m", "5y", "2025-13-01", "2025-01-04T25:00", "2025-01-04T19",
                          "2025-01-04T19:30:45.", "2025-01-04T19:30+2", "2025-01-04junk", "2025/01/04"})
    CHECK_MESSAGE(!parse_time(bad, 0), bad);
}
