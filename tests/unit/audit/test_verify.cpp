#include "audit_test_util.hpp"

#include "sandpit/audit/log.hpp"
#include "sandpit/audit/reader.hpp"

#include <doctest/doctest.h>

using namespace sandpit::audit;
using namespace audit_test;

namespace {

// A log of `n` records in a fresh directory.
std::vector<std::string> write_log(const std::filesystem::path& path, int n) {
  Log log(path, Sync::no, fake_clock());
  for (int i = 0; i < n; ++i) log.append(sample("user" + std::to_string(i) + "@example.com"));
  return lines_of(slurp(path));
}

} // namespace

TEST_CASE("verify, an intact log and a missing one") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  CHECK(verify(path).summary() == "0 records, chain intact");
  write_log(path, 5);
  auto report = verify(path);
  CHECK(report.ok());
  CHECK(report.records == 5);
  CHECK(report.summary() == "5 records, chain intact");
}

TEST_CASE("verify, a flipped byte is a hash mismatch") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  auto lines = write_log(path, 5);
  auto at = lines[2].find("user2");
  lines[2][at + 4] = '9';
  spit(path, joined(lines));
  auto report = verify(path);
  REQUIRE(report.problems.size() == 1);
  CHECK(report.problems[0].kind == ProblemKind::hash_mismatch);
  CHECK(report.summary() == "line 3: hash mismatch (the record was changed after it was written)");
}

TEST_CASE("verify, a deleted line breaks the chain") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  auto lines = write_log(path, 5);
  lines.erase(lines.begin() + 2);
  spit(path, joined(lines));
  auto report = verify(path);
  REQUIRE(report.problems.size() == 1);
  CHECK(report.summary() == "line 3: broken chain: prev does not match line 2 (a record was removed or reordered)");
}

TEST_CASE("verify, a deleted first line breaks the chain at the start") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  auto lines = write_log(path, 3);
  lines.erase(lines.begin());
  spit(path, joined(lines));
  CHECK(verify(path).summary() ==
        "line 1: broken chain: prev is not the start of the log (records before it were removed?)");
}

TEST_CASE("verify, a reordered pair breaks the chain three times") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  auto lines = write_log(path, 5);
  std::swap(lines[1], lines[2]);
  spit(path, joined(lines));
  auto report = verify(path);
  REQUIRE(report.problems.size() == 3);
  CHECK(report.problems[0].message() == "line 2: broken chain: prev does not match line 1 (a record was removed or reordered)");
  CHECK(report.problems[1].line == 3);
  CHECK(report.problems[2].line == 4);
  CHECK(report.summary() ==
        "line 2: broken chain: prev does not match line 1 (a record was removed or reordered) (and 2 more problems)");
}

TEST_CASE("verify, a torn tail and garbage") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  auto lines = write_log(path, 3);
  spit(path, joined(lines) + lines[0].substr(0, 50));
  auto report = verify(path);
  CHECK(report.records == 3);
  CHECK(report.summary() == "line 4: torn record (a crash during a write?)");
  lines.insert(lines.begin() + 1, "hello\n");
  spit(path, joined(lines));
  report = verify(path);
  REQUIRE(report.problems.size() == 1);
  CHECK(report.summary() == "line 2: not a record");
  lines[1] = lines[0].substr(0, lines[0].size() - 30) + "\n"; // a torn record closed by a later append
  spit(path, joined(lines));
  CHECK(verify(path).summary() == "line 2: torn record (a crash during a write?)");
}

TEST_CASE("verify, the hash member must be last and exact") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  auto lines = write_log(path, 2);
  lines[1].insert(lines[1].size() - 2, R"(,"x":1)");
  spit(path, joined(lines));
  CHECK(verify(path).summary() == "line 2: not a record");
}
