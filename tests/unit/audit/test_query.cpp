#include "audit_test_util.hpp"

#include "sandpit/audit/log.hpp"
#include "sandpit/audit/reader.hpp"

#include <doctest/doctest.h>

using namespace sandpit::audit;
using namespace audit_test;

namespace {

constexpr std::int64_t k_start = 1736019045123; // fake_clock(): record i is at k_start + i s

// Ten records: users alternate a/b, languages cycle python/bash/javascript, every third fails.
std::filesystem::path write_log(const TempDir& dir) {
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock(k_start));
  const char* languages[] = {"python", "bash", "javascript"};
  for (int i = 0; i < 10; ++i) {
    Record r = sample(i % 2 ? "b@x" : "a@x", languages[i % 3]);
    r.duration_ms = i;
    r.success = i % 3 != 0;
    log.append(r);
  }
  return path;
}

std::vector<std::int64_t> durations(const std::vector<Record>& records) {
  std::vector<std::int64_t> out;
  for (const auto& r : records) out.push_back(r.duration_ms);
  return out;
}

using V = std::vector<std::int64_t>;

} // namespace

TEST_CASE("query, filters") {
  TempDir dir;
  auto path = write_log(dir);
  CHECK(durations(query(path, {})) == V{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  Query q;
  q.user = "b@x";
  CHECK(durations(query(path, q)) == V{1, 3, 5, 7, 9});
  q = {};
  q.since_ms = k_start + 2000;
  q.until_ms = k_start + 5000;
  CHECK(durations(query(path, q)) == V{2, 3, 4});
  q = {};
  q.language = "bash";
  CHECK(durations(query(path, q)) == V{1, 4, 7});
  q = {};
  q.failed_only = true;
  CHECK(durations(query(path, q)) == V{0, 3, 6, 9});
  q.limit = 2;
  CHECK(durations(query(path, q)) == V{6, 9});
  q.limit = 0;
  CHECK(query(path, q).empty());
  q = {};
  q.user = "a@x";
  q.language = "python";
  CHECK(durations(query(path, q)) == V{0, 6});
}

TEST_CASE("query, returns whole records") {
  TempDir dir;
  auto path = write_log(dir);
  Query q;
  q.limit = 1;
  auto records = query(path, q);
  REQUIRE(records.size() == 1);
  CHECK(records[0].user == "b@x");
  CHECK(records[0].ts_ms == k_start + 9000);
  CHECK(records[0].hash.size() == 64);
}

TEST_CASE("query, a missing file has no records") {
  TempDir dir;
  ReadIssues issues;
  CHECK(query(dir.path() / "none.jsonl", {}, &issues).empty());
  CHECK(issues.skipped_lines == 0);
}

TEST_CASE("query, skips and counts lines that are not records") {
  TempDir dir;
  auto path = write_log(dir);
  auto lines = lines_of(slurp(path));
  lines.insert(lines.begin() + 3, "garbage\n");
  spit(path, joined(lines) + lines[0].substr(0, 40));
  ReadIssues issues;
  CHECK(query(path, {}, &issues).size() == 10);
  CHECK(issues.skipped_lines == 2);
  CHECK(issues.first_skipped_line == 4);
}

TEST_CASE("query, records built from the scan equal parse_record's") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  Record plain = sample();
  plain.code_sha256.reset();
  plain.error = "E: \"quoted\" \\ naïve";
  plain.denied = "/etc/shadow";
  plain.exit_code = -9;
  log.append(plain);
  Record extra = sample();
  extra.extra["client"] = {{"name", "mcp"}, {"version", "1"}};
  log.append(extra);
  auto records = query(path, {});
  auto lines = lines_of(slurp(path));
  REQUIRE(records.size() == 2);
  CHECK(records[0] == *parse_record(lines[0]));
  CHECK(records[1] == *parse_record(lines[1]));
  CHECK(records[0].error == plain.error);
  CHECK(records[1].extra["client"]["name"] == "mcp");
}
