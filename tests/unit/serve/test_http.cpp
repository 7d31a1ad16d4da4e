#include "../../../src/serve/common.hpp"
#include "../../../src/serve/entry_info.hpp"
#include "../../../src/serve/http.hpp"

#include <doctest/doctest.h>

using namespace sandpit::serve;

TEST_CASE("http::parse_query decodes form encoding; the first of repeated names wins") {
  auto q = http::parse_query("path=%2Fhome%2Fuser%2Fa+b.txt&username=&x&path=second&bad=%zz%4");
  CHECK(q["path"] == "/home/user/a b.txt");
  CHECK(q["username"].empty());
  CHECK(q.contains("x"));
  CHECK(q["bad"] == "%zz%4");
  CHECK(http::decode_component("a+b%20c", false) == "a+b c");
}

TEST_CASE("timestamps in the three forms E2B's clients parse") {
  const auto t = SystemClock::time_point(std::chrono::seconds(1735689600) + std::chrono::microseconds(123456));
  CHECK(iso_millis(t) == "2025-01-01T00:00:00.123Z");
  CHECK(iso_micros(t) == "2025-01-01T00:00:00.123456+00:00");
  CHECK(proto_timestamp(timespec{1735689600, 5}) == "2025-01-01T00:00:00.000000005Z");
}

TEST_CASE("go_mode_string, as Go's FileMode.String() prints an lstat mode") {
  CHECK(go_mode_string(S_IFREG | 0644) == "-rw-r--r--");
  CHECK(go_mode_string(S_IFDIR | 0755) == "drwxr-xr-x");
  CHECK(go_mode_string(S_IFLNK | 0777) == "Lrwxrwxrwx");
  CHECK(go_mode_string(S_IFDIR | S_ISVTX | 0777) == "dtrwxrwxrwx");
  CHECK(go_mode_string(S_IFREG | S_ISUID | 0755) == "urwxr-xr-x");
  CHECK(go_mode_string(S_IFCHR | 0666) == "Dcrw-rw-rw-");
}

TEST_CASE("random ids and secrets") {
  CHECK(random_id(20).size() == 20);
  CHECK(random_id(20).find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string::npos);
  CHECK(random_hex(16).size() == 32);
  CHECK(random_hex(16) != random_hex(16));
  CHECK(same_secret("abc", "abc"));
  CHECK_FALSE(same_secret("abc", "abd"));
  CHECK_FALSE(same_secret("abc", "abcd"));
  CHECK_FALSE(same_secret("", "a"));
}
