#include "audit_test_util.hpp"

#include "sandpit/audit/log.hpp"
#include "sandpit/audit/reader.hpp"
#include "sandpit/core/error.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace sandpit::audit;
using namespace audit_test;

TEST_CASE("Log::append, creates the file 0600 in new 0700 directories and chains records") {
  TempDir dir;
  auto path = dir.path() / "state" / "sandpit" / "audit.jsonl";
  Log log(path, Sync::yes, fake_clock());
  std::string first = log.append(sample());
  std::string second = log.append(sample());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(path.parent_path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  auto lines = lines_of(slurp(path));
  REQUIRE(lines.size() == 2);
  auto a = parse_record(lines[0]), b = parse_record(lines[1]);
  CHECK(a->prev == k_genesis);
  CHECK(a->hash == first);
  CHECK(b->prev == first);
  CHECK(b->hash == second);
  CHECK(a->ts_ms == 1736019045123);
  CHECK(b->ts_ms == 1736019046123);
  CHECK_FALSE(log.last_torn_line());
  CHECK(verify(path).ok());
}

TEST_CASE("Log::append, after a torn tail keeps the torn line and chains to the last valid record") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  log.append(sample());
  std::string second = log.append(sample());
  std::string torn = seal(sample(), second).line.substr(0, 100);
  spit(path, slurp(path) + torn);
  log.append(sample("late@example.com"));
  CHECK(log.last_torn_line() == 3);
  CHECK(torn_line_warning(path, 3) == "audit log " + path.string() +
                                          ": line 3 is torn (a crash during a write?); kept, and reported by "
                                          "'sandpit audit verify'");
  auto lines = lines_of(slurp(path));
  REQUIRE(lines.size() == 4);
  CHECK(lines[2] == torn + "\n");
  CHECK(parse_record(lines[3])->prev == second);
  auto report = verify(path);
  CHECK(report.records == 3);
  REQUIRE(report.problems.size() == 1);
  CHECK(report.summary() == "line 3: torn record (a crash during a write?)");
  log.append(sample());
  CHECK_FALSE(log.last_torn_line());
}

TEST_CASE("Log::append, skips garbage lines when finding the record to chain to") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  Log log(path, Sync::no, fake_clock());
  std::string first = log.append(sample());
  spit(path, slurp(path) + "not json\n\n");
  log.append(sample());
  CHECK(parse_record(lines_of(slurp(path)).back())->prev == first);
}

TEST_CASE("Log::append, an unwritable place is an Error naming the log") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  ::mkdir(path.c_str(), 0700); // a directory where the file should be
  Log log(path, Sync::no, fake_clock());
  CHECK_THROWS_WITH_AS(log.append(sample()), ("audit log " + path.string() + ": Is a directory").c_str(),
                       sandpit::Error);
  auto nested = dir.path() / "file" / "audit.jsonl";
  spit(dir.path() / "file", "x");
  CHECK_THROWS_WITH_AS(Log(nested).append(sample()), ("audit log " + nested.string() + ": Not a directory").c_str(),
                       sandpit::Error);
}

TEST_CASE("Log::append, 16 processes appending 200 records each keep one chain") {
  TempDir dir;
  auto path = dir.path() / "audit.jsonl";
  constexpr int k_writers = 16, k_each = 200;
  std::vector<pid_t> children;
  for (int w = 0; w < k_writers; ++w) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int status = 0;
      try {
        Log log(path); // each writer has its own Log and its own descriptors
        for (int i = 0; i < k_each; ++i) log.append(sample("writer" + std::to_string(w) + "@example.com"));
      } catch (...) {
        status = 1;
      }
      ::_exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  auto report = verify(path);
  CHECK(report.summary() == "3200 records, chain intact");
  CHECK(report.lines == 3200);
  Query q;
  q.user = "writer7@example.com";
  CHECK(query(path, q).size() == k_each);
}
