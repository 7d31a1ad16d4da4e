#include "audit_test_util.hpp"

#include "sandpit/audit/format.hpp"
#include "sandpit/audit/inflight.hpp"
#include "sandpit/audit/log.hpp"
#include "sandpit/audit/owner.hpp"
#include "sandpit/audit/reader.hpp"
#include "sandpit/audit/stats.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

using namespace sandpit::audit;
using namespace audit_test;

namespace {

// An owner that no longer lives: a child that has exited and been reaped.
Owner dead_owner(std::string role = "daemon") {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  Owner o = Owner::self(std::move(role));
  o.pid = pid;
  ::waitpid(pid, nullptr, 0);
  return o;
}

Record intent_of(Record r, const Owner& owner) {
  r.success = false;
  r.duration_ms = 0;
  r.extra["phase"] = "intent";
  r.extra["owner"] = owner.to_json();
  return r;
}

Record outcome_of(Record r, const std::string& intent_hash) {
  r.extra["intent"] = intent_hash;
  return r;
}

} // namespace

TEST_CASE("Owner, this process lives; an exited one, a reused pid and another boot do not") {
  Owner me = Owner::self("client");
  CHECK(me.pid == ::getpid());
  CHECK(me.start > 0);
  CHECK(me.alive());
  CHECK_FALSE(dead_owner().alive());
  Owner reused = me;
  reused.start += 1;
  CHECK_FALSE(reused.alive());
  Owner rebooted = me;
  rebooted.boot = "00000000-0000-0000-0000-000000000000";
  CHECK_FALSE(rebooted.alive());
  auto back = Owner::from_json(me.to_json());
  REQUIRE(back);
  CHECK(back->pid == me.pid);
  CHECK(back->start == me.start);
  CHECK(back->role == "client");
  CHECK_FALSE(Owner::from_json(nlohmann::json{{"pid", "1"}}));
  CHECK(dead_owner("daemon").describe().starts_with("the session daemon (pid "));
  CHECK(dead_owner("client").describe().starts_with("the sandpit client (pid "));
}

TEST_CASE("query, an intent and its outcome are one action; an intent alone is interrupted or running") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  auto done = log.append(intent_of(sample(), Owner::self("daemon")));
  Record ok = outcome_of(sample(), done);
  log.append(ok);
  log.append(intent_of(sample("b@x"), dead_owner()));          // its daemon died
  log.append(intent_of(sample("c@x"), Owner::self("daemon"))); // still running: this process
  Record old = sample("d@x");                                   // an old log's record: complete on its own
  old.success = false;
  log.append(old);

  auto records = query(path, {});
  REQUIRE(records.size() == 4);
  CHECK(records[0].user == "artur@example.com");
  CHECK(completes(records[0]) == done);
  CHECK(records[0].unfinished == Unfinished::no);
  CHECK(records[1].user == "b@x");
  CHECK(records[1].unfinished == Unfinished::interrupted);
  CHECK(problem_text(records[1]).starts_with("Interrupted: no outcome was recorded; the session daemon (pid "));
  CHECK(problem_text(records[1]).ends_with(") is gone"));
  CHECK(records[2].unfinished == Unfinished::running);
  CHECK(records[3].user == "d@x");

  Query failed;
  failed.failed_only = true;
  auto failures = query(path, failed);
  REQUIRE(failures.size() == 2); // the interrupted run and the old failure, not the running one
  CHECK(failures[0].user == "b@x");
  CHECK(failures[1].user == "d@x");

  Query last;
  last.limit = 2;
  CHECK(query(path, last).size() == 2);

  CHECK(format_line(records[2]).find("| Success: running |") != std::string::npos);
  CHECK(format_table({records[1]}).find("  no   ") != std::string::npos);
  CHECK(verify(path).ok());
}

TEST_CASE("query, an outcome in a later chunk closes an intent in an earlier one") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  auto first = log.append(intent_of(sample(), dead_owner()));
  // Enough bytes between them for the reader to split the file across threads.
  Record filler = sample("filler");
  filler.extra["pad"] = std::string(4000, 'x');
  for (int i = 0; i < 3000; ++i) log.append(filler);
  log.append(outcome_of(sample(), first));
  Query mine;
  mine.user = "artur@example.com";
  auto records = query(path, mine);
  REQUIRE(records.size() == 1);
  CHECK(records[0].unfinished == Unfinished::no);
  CHECK(stats(path, mine).total.interrupted == 0);
}

TEST_CASE("stats, an interrupted run is a failed execution without a duration") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  auto h = log.append(intent_of(sample(), Owner::self("daemon")));
  Record ok = outcome_of(sample(), h);
  ok.duration_ms = 40;
  log.append(ok);
  log.append(intent_of(sample(), dead_owner()));                 // lost, not yet recovered
  const Owner gone = dead_owner();
  Record recovered = intent_of(sample(), gone); // lost, then recovered
  recovered.hash = log.append(recovered);
  log.append(interrupted_outcome(recovered, gone));
  log.append(intent_of(sample(), Owner::self("daemon")));        // running: not counted yet

  auto s = stats(path, {}).total;
  CHECK(s.executions == 3);
  CHECK(s.successes == 1);
  CHECK(s.interrupted == 2);
  CHECK(s.mean_ms == doctest::Approx(40));
  CHECK(s.p50_ms == 40);
  REQUIRE(!s.recent_errors.empty());
  CHECK(s.recent_errors[0].starts_with("Interrupted: the session daemon (pid "));
  CHECK(to_json(stats(path, {}))["total"]["interrupted"] == 2);
}

TEST_CASE("Log::append_once, a second recovery of the same intent appends nothing") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  auto h = log.append(intent_of(sample(), dead_owner()));
  const auto offset = log.last_offset();
  const auto line = log.last_line();
  CHECK(offset == 0);
  Record outcome = outcome_of(sample(), h);
  CHECK_FALSE(log.append_once(outcome, h, line, offset + 1)); // not where the intent is
  CHECK_FALSE(log.append_once(outcome, h, "{}\n", offset));   // not the intent
  CHECK(log.append_once(outcome, h, line, offset));
  CHECK_FALSE(log.append_once(outcome, h, line, offset));
  CHECK(lines_of(slurp(path)).size() == 2);
  // A torn line naming the intent is not its outcome.
  auto h2 = log.append(intent_of(sample(), dead_owner()));
  const auto offset2 = log.last_offset();
  const auto line2 = log.last_line();
  auto torn = slurp(path) + "{\"intent\":\"" + h2 + "\",\"ts\":";
  spit(path, torn);
  CHECK(log.append_once(outcome_of(sample(), h2), h2, line2, offset2));
  CHECK(log.last_torn_line() == 4);
}

TEST_CASE("Log::append, a write that fails leaves nothing behind and says why") {
  Log log("/dev/full");
  CHECK_THROWS_WITH(log.append(sample()), "audit log /dev/full: No space left on device");
}

TEST_CASE("InFlight::recover, dead owners' markers become interrupted outcomes once") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  InFlight markers(dir.path() / "ws" / "inflight");

  auto lost_intent = intent_of(sample(), dead_owner());
  lost_intent.extra["client"] = "an agent 1.0";
  auto lost = log.append(lost_intent);
  markers.add(lost, path, log.last_offset(), log.last_line());
  auto live = log.append(intent_of(sample(), Owner::self("daemon")));
  markers.add(live, path, log.last_offset(), log.last_line());
  auto finished = log.append(intent_of(sample(), dead_owner())); // died after writing its outcome
  markers.add(finished, path, log.last_offset(), log.last_line());
  log.append(outcome_of(sample(), finished));
  InFlight other(dir.path() / "other");
  auto foreign = log.append(intent_of(sample(), dead_owner()));
  other.add(foreign, dir.path() / "another-log.jsonl", log.last_offset(), log.last_line());

  auto found = markers.recover(log);
  REQUIRE(found.size() == 1);
  CHECK(found[0].intent.hash == lost);
  CHECK(found[0].owner.role == "daemon");
  CHECK(markers.recover(log).empty());
  CHECK(std::filesystem::exists(markers.dir() / live));
  CHECK_FALSE(std::filesystem::exists(markers.dir() / lost));
  CHECK_FALSE(std::filesystem::exists(markers.dir() / finished));
  CHECK(other.recover(log).empty());
  CHECK(std::filesystem::exists(other.dir() / foreign));

  auto records = query(path, {});
  auto recovered = std::find_if(records.begin(), records.end(), [&](const Record& r) { return completes(r) == lost; });
  REQUIRE(recovered != records.end());
  CHECK_FALSE(recovered->success);
  CHECK(recovered->exit_code == 125);
  CHECK(recovered->error->starts_with("Interrupted: the session daemon (pid "));
  CHECK(recovered->extra["interrupted"].get<std::string>().ends_with(" died"));
  CHECK(recovered->extra["started"] == "2025-01-04T19:30:45.123Z");
  CHECK(recovered->extra["client"] == "an agent 1.0");
  CHECK_FALSE(recovered->extra.contains("owner"));
  CHECK(verify(path).ok());
}
