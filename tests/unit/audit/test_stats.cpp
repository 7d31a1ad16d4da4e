#include "audit_test_util.hpp"

#include "sandpit/audit/format.hpp"
#include "sandpit/audit/log.hpp"
#include "sandpit/audit/stats.hpp"

#include <doctest/doctest.h>

using namespace sandpit::audit;
using namespace audit_test;

namespace {

Record run(std::string user, std::string language, std::int64_t ms, bool ok) {
  Record r = sample(std::move(user), std::move(language));
  r.duration_ms = ms;
  r.success = ok;
  return r;
}

} // namespace

TEST_CASE("stats, figures per (user, language), per user and in total") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  for (std::int64_t ms : {10, 20, 30, 40}) log.append(run("a@x", "python", ms, true));
  Record failed = run("a@x", "python", 100, false);
  failed.timed_out = true;
  failed.error = "TimeoutError: 30s";
  log.append(failed);
  Record blocked = run("a@x", "bash", 1, false);
  blocked.blocked = "rm -rf /";
  log.append(blocked);
  Record denied = run("b@x", "bash", 3, false);
  denied.denied = "/etc/shadow";
  log.append(denied);
  Record upload = run("a@x", "python", 5000, true);
  upload.command = "upload"; // not an execution: no language
  upload.language.reset();
  log.append(upload);
  log.append(run("a@x", "python", 9, false)); // same error text later on... none: no error
  Record again = run("a@x", "python", 11, false);
  again.error = "ZeroDivisionError: division by zero";
  log.append(again);

  Query q;
  q.until_ms = 1736019045123 + 8000; // the first 8 records: the last two are outside
  Stats s = stats(path, q);
  REQUIRE(s.groups.size() == 3);
  const Summary& py = s.groups[1].summary;
  CHECK(s.groups[1].user == "a@x");
  CHECK(s.groups[1].language == "python");
  CHECK(py.executions == 5);
  CHECK(py.successes == 4);
  CHECK(py.success_rate == doctest::Approx(0.8));
  CHECK(py.mean_ms == doctest::Approx(40));
  CHECK(py.p50_ms == 30);
  CHECK(py.p95_ms == 100);
  CHECK(py.timeouts == 1);
  CHECK(py.recent_errors == std::vector<std::string>{"TimeoutError: 30s"});
  REQUIRE(s.users.size() == 2);
  CHECK(s.users[0].summary.executions == 6);
  CHECK(s.users[0].summary.blocked == 1);
  CHECK(s.users[0].summary.recent_errors == std::vector<std::string>{"Blocked: rm -rf /", "TimeoutError: 30s"});
  CHECK(s.total.executions == 7);
  CHECK(s.total.denied == 1);
  CHECK(s.total.p50_ms == 20); // 1,3,10,20,30,40,100: rank ceil(3.5) = 4
  CHECK(s.total.recent_errors ==
        std::vector<std::string>{"Denied: /etc/shadow", "Blocked: rm -rf /", "TimeoutError: 30s"});
  auto j = to_json(s);
  CHECK(j["users"][0]["languages"][1]["p95_ms"] == 100);
  CHECK(j["total"]["executions"] == 7);
}

TEST_CASE("stats, every record with a language is a run, whichever front end wrote it") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  for (const char* command : {"exec", "shell", "repl", "mcp", "serve", "a-future-front-end"}) {
    Record r = run("a@x", "python", 10, true);
    r.command = command;
    log.append(r);
  }
  Record refused = run("a@x", "python", 0, false);
  refused.command = "audit"; // a refused read of others' records: no language
  refused.language.reset();
  refused.denied = "read every user's records";
  log.append(refused);
  Stats s = stats(path, {});
  CHECK(s.total.executions == 6);
  CHECK(s.total.denied == 0);
}

TEST_CASE("stats, the last 3 distinct errors, most recent first") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  for (const char* e : {"E: 1", "E: 2", "E: 3", "E: 4", "E: 2", "E: 4"}) {
    Record r = run("a@x", "python", 1, false);
    r.error = e;
    log.append(r);
  }
  Stats s = stats(path, {});
  CHECK(s.total.recent_errors == std::vector<std::string>{"E: 4", "E: 2", "E: 3"});
}

TEST_CASE("stats, a missing file and an empty group") {
  TempDir dir;
  Stats s = stats(dir.path() / "none.jsonl", {});
  CHECK(s.groups.empty());
  CHECK(s.total.executions == 0);
  CHECK(s.total.p95_ms == 0);
  CHECK(format_stats_table(s).find("(everyone)") != std::string::npos);
}
