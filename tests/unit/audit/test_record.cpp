#include "audit_test_util.hpp"

#include "sandpit/audit/record.hpp"
#include "sandpit/core/error.hpp"

#include <doctest/doctest.h>

using namespace sandpit::audit;
using namespace audit_test;

TEST_CASE("seal and parse_record, round trip of every field") {
  Record r = sample();
  r.ts_ms = 1736019045123;
  r.language.reset();
  r.success = false;
  r.exit_code = 1;
  r.timed_out = true;
  r.duration_ms = 30000;
  r.error = "ValueError: naïve café ☕ 日本";
  r.blocked = "rm -rf /";
  r.denied = "/etc/shadow";
  r.extra["files"] = nlohmann::ordered_json::array({{{"path", "a.txt"}, {"bytes", 3}, {"sha256", "ab"}}});
  r.extra["client"] = {{"name", "claude"}, {"version", "1.0"}};
  Sealed sealed = seal(r, k_genesis);
  auto back = parse_record(sealed.line);
  REQUIRE(back);
  r.prev = k_genesis;
  r.hash = sealed.hash;
  CHECK(*back == r);
  CHECK(back->extra.begin().key() == "files");
}

TEST_CASE("seal, field order and the hash over the line without its hash member") {
  Record r = sample();
  r.ts_ms = 1736019045123;
  Sealed sealed = seal(r, k_genesis);
  std::string expected_body =
      R"({"ts":"2025-01-04T19:30:45.123Z","user":"artur@example.com","workspace":"/home/artur/proj","session":"s-1",)"
      R"("command":"exec","language":"python","code_sha256":")" + std::string(64, 'a') +
      R"(","code_bytes":12,"success":true,"exit_code":0,"timed_out":false,"duration_ms":10,"error":null,)"
      R"("blocked":null,"denied":null,"prev":")" + std::string(k_genesis) + R"("})";
  CHECK(sealed.hash == sha256_hex(expected_body));
  expected_body.pop_back();
  CHECK(sealed.line == expected_body + R"(,"hash":")" + sealed.hash + "\"}\n");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("seal, a long error is cut at a character boundary") {
  Record r = sample();
  // 1996 ASCII bytes, then "日" across the cut at 1997 bytes (2000 less the "..."): it goes whole.
  r.error = "E: " + std::string(1993, 'x') + "日本語";
  auto back = parse_record(seal(r, k_genesis).line);
  REQUIRE(back);
  CHECK(*back->error == "E: " + std::string(1993, 'x') + "...");
  r.error = std::string(k_max_error_bytes, 'y');
  CHECK(parse_record(seal(r, k_genesis).line)->error == r.error);
}

TEST_CASE("seal, an extra field may not repeat a fixed one") {
  Record r = sample();
  r.extra["hash"] = "x";
  CHECK_THROWS_WITH_AS(seal(r, k_genesis), R"(audit record: extra field "hash" repeats a fixed field)", sandpit::Error);
}

TEST_CASE("parse_record, lines that are not records") {
  CHECK_FALSE(parse_record("garbage"));
  CHECK_FALSE(parse_record("[1,2]"));
  CHECK_FALSE(parse_record(R"({"ts":"2025-01-04T19:30:45.123Z"})"));
  std::string line = seal(sample(), k_genesis).line;
  CHECK_FALSE(parse_record(line.substr(0, line.size() / 2)));
}
