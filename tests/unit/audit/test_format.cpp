#include "audit_test_util.hpp"

#include "sandpit/audit/format.hpp"

#include <doctest/doctest.h>

using namespace sandpit::audit;
using namespace audit_test;

TEST_CASE("format_line, exact text") {
  Record r = sample();
  r.ts_ms = 1736019045123;
  r.duration_ms = 1234;
  CHECK(format_line(r) ==
        "2025-01-04T19:30:45.123Z | User: artur@example.com | Language: python | Success: true | Time: 1234ms | Error: None");
  r.success = false;
  r.error = "ZeroDivisionError: division by zero";
  CHECK(format_line(r).ends_with("| Success: false | Time: 1234ms | Error: ZeroDivisionError: division by zero"));
  r.error.reset();
  r.blocked = "rm -rf /";
  CHECK(format_line(r).ends_with("| Error: Blocked: rm -rf /"));
  r.blocked.reset();
  r.denied = "/etc/shadow";
  r.language.reset();
  CHECK(format_line(r).ends_with("| Language: None | Success: false | Time: 1234ms | Error: Denied: /etc/shadow"));
}

TEST_CASE("format_table, header and cells cut to 120 columns") {
  Record r = sample("someone.with.a.very.long.name@example.com");
  r.ts_ms = 1736019045123;
  r.success = false;
  r.exit_code = 1;
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "é";
  r.error = "Traceback:\n" + accents;
  std::string table = format_table({r});
  auto lines = lines_of(table);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "time                      user                command   language    ok   exit       ms  error\n");
  // The error cell is 32 columns: 11 for "Traceback: ", 20 "é" (2 bytes each), then "…".
  CHECK(lines[1] == "2025-01-04T19:30:45.123Z  someone.with.a.ve…  exec      python      no      1       10  Traceback: " +
                        accents.substr(0, 40) + "…\n");
}

TEST_CASE("format_table, a terminal narrower than the table gets a block per record") {
  Record r = sample("someone.with.a.very.long.name@example.com");
  r.ts_ms = 1736019045123;
  r.success = false;
  r.exit_code = 1;
  r.error = "ZeroDivisionError: division by zero";
  CHECK(format_table({r}, 40) == "2025-01-04T19:30:45.123Z\n"
                                 "  someone.with.a.very.long.name@example…\n"
                                 "  exec · python · failed · exit 1\n"
                                 "  10 ms\n"
                                 "  ZeroDivisionError: division by zero\n");
  CHECK(format_table({r}, 120) == format_table({r}));
}

TEST_CASE("format_stats_table, a narrow terminal gets a block per row") {
  Stats s;
  s.total.executions = 4;
  s.total.successes = 3;
  s.total.success_rate = 0.75;
  s.total.p95_ms = 12;
  CHECK(format_stats_table(s, 40) == "(everyone) · (all)\n"
                                     "  4 runs · 75.0% ok · mean 0 ms\n"
                                     "  p50 0 ms · p95 12 ms · 0 timeouts\n"
                                     "  0 blocked · 0 denied · 0 interrupted\n");
}
