#include "sandpit/session/protocol.hpp"
#include "sandpit/util/strings.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace sandpit::session::protocol;

namespace {
std::string why(std::string_view line) {
  auto r = decode_request(line);
  REQUIRE_FALSE(r.ok());
  return r.failure().detail;
}
} // namespace

TEST_CASE("decode_request, hello and execute round-trip through encode") {
  Request hello;
  hello.type = RequestType::hello;
  hello.protocol = k_version;
  hello.client = "sandpit test";
  auto decoded = decode_request(encode(hello).dump());
  REQUIRE(decoded.ok());
  CHECK(decoded->type == RequestType::hello);
  CHECK(decoded->protocol == k_version);
  Request exec;
  exec.type = RequestType::execute;
  exec.execute.language = "javascript";
  exec.execute.code = "1+1";
  exec.execute.filename = "job.js";
  exec.execute.timeout_ms = 1500;
  exec.execute.wait = false;
  exec.execute.user = "ada";
  exec.execute.command = "shell";
  decoded = decode_request(encode(exec).dump());
  REQUIRE(decoded.ok());
  CHECK(decoded->execute.user == "ada");
  CHECK(decoded->execute.command == "shell");
  CHECK_FALSE(decode_request(R"({"type":"execute","language":"bash","code":"x","command":"sudo"})").ok());
  CHECK(decoded->execute.language == "javascript");
  CHECK(decoded->execute.timeout_ms == 1500);
  CHECK_FALSE(decoded->execute.wait);
}

TEST_CASE("decode_request, refuses anything outside the closed set") {
  CHECK(why("not json") == "not JSON");
  CHECK(why("[1]") == "a message must be a JSON object");
  CHECK(why(R"({"kind":"hello"})") == "a message needs a string 'type'");
  CHECK(why(R"({"type":"launch"})") == "unknown request type 'launch'");
  CHECK(why(R"({"type":"info","x":1})") == "unexpected field 'x'");
  CHECK(why(R"({"type":"hello"})") == "hello needs an integer 'protocol'");
  CHECK(why(R"({"type":"execute","language":"cobol","code":""})") == "unknown language 'cobol'");
  CHECK(why(R"({"type":"execute","language":"python"})") == "execute needs a string 'code'");
  CHECK(why(R"({"type":"execute","language":"python","code":"1","timeout_ms":-5})") ==
        "'timeout_ms' must be a positive number of milliseconds");
  CHECK(why(R"({"type":"execute","language":"python","code":"1","filename":"a\nb"})") == "'filename' must be one line");
  std::string big = R"({"type":"execute","language":"python","code":")" + std::string(k_max_code + 1, 'x') + "\"}";
  CHECK(why(big).find("code is longer than") == 0);
}

TEST_CASE("decode_request, check carries a language and code and nothing else") {
  Request check;
  check.type = RequestType::check;
  check.execute.language = "python";
  check.execute.code = "def f():";
  auto decoded = decode_request(encode(check).dump());
  REQUIRE(decoded.ok());
  CHECK(decoded->type == RequestType::check);
  CHECK(decoded->execute.language == "python");
  CHECK(decoded->execute.code == "def f():");
  CHECK(why(R"({"type":"check","language":"python"})") == "check needs a string 'code'");
  CHECK(why(R"({"type":"check","language":"ruby","code":""})") == "unknown language 'ruby'");
  CHECK(why(R"({"type":"check","language":"bash","code":"","timeout_ms":5})") == "unexpected field 'timeout_ms'");
}

TEST_CASE("decode_request, typescript by its canonical name only") {
  for (const char* type : {"execute", "check"}) {
    auto decoded = decode_request(fmt::format(R"({{"type":"{}","language":"typescript","code":"const x: number = 1"}})", type));
    REQUIRE(decoded.ok());
    CHECK(decoded->execute.language == "typescript");
    CHECK(why(fmt::format(R"({{"type":"{}","language":"ts","code":""}})", type)) == "unknown language 'ts'");
  }
}

TEST_CASE("complete_utf8_prefix, never ends inside a character") {
  using sandpit::strings::complete_utf8_prefix;
  CHECK(complete_utf8_prefix("abc") == 3);
  std::string e_acute = "\xC3\xA9";
  CHECK(complete_utf8_prefix("a" + e_acute) == 3);
  CHECK(complete_utf8_prefix("a" + e_acute.substr(0, 1)) == 1);
  std::string euro = "\xE2\x82\xAC";
  CHECK(complete_utf8_prefix(euro.substr(0, 2)) == 0);
  CHECK(complete_utf8_prefix(euro) == 3);
}

TEST_CASE("decode_request, interrupt may say why, in one short string") {
  Request stop;
  stop.type = RequestType::interrupt;
  stop.reason = "cancelled by the client: timed out";
  auto decoded = decode_request(encode(stop).dump());
  REQUIRE(decoded.ok());
  CHECK(decoded->type == RequestType::interrupt);
  CHECK(decoded->reason == "cancelled by the client: timed out");
  CHECK(decode_request(R"({"type":"interrupt"})")->reason.empty());
  CHECK(why(R"({"type":"interrupt","reason":7})") == "'reason' must be a short string");
  CHECK(why(R"({"type":"interrupt","because":"x"})") == "unexpected field 'because'");
  CHECK(why(R"({"type":"interrupt","reason":")" + std::string(600, 'x') + "\"}") == "'reason' must be a short string");
}

TEST_CASE("decode_request, process requests round-trip and are checked field by field") {
  auto start = decode_request(R"({"type":"process_start","argv":["/bin/bash","-l","-c","echo hi"],"env":{"A":"1"},"cwd":"/tmp",)"
                              R"("stdin":true,"tag":"t","timeout_ms":1000,"user":"u","command":"serve","client":"sdk"})");
  REQUIRE(start.ok());
  CHECK(start->type == RequestType::process_start);
  CHECK(start->process.argv.size() == 4);
  CHECK(start->process.env.at("A") == "1");
  CHECK(start->process.stdin_pipe);
  CHECK(start->process.timeout_ms == 1000);
  CHECK(start->execute.command == "serve");
  auto again = decode_request(encode(*start).dump());
  REQUIRE(again.ok());
  CHECK(again->process.argv == start->process.argv);
  CHECK(again->process.tag == "t");
  auto input = decode_request(R"({"type":"process_input","pid":5,"data":"aGVsbG8K"})");
  REQUIRE(input.ok());
  CHECK(input->process.data == "hello\n");
  CHECK(decode_request(encode(*input).dump())->process.data == "hello\n");
  CHECK(why(R"({"type":"process_start","argv":["bash"]})") == "'argv[0]' must be an absolute path");
  CHECK(why(R"({"type":"process_start","argv":[]})") == "process_start needs a non-empty 'argv' array");
  CHECK(why(R"({"type":"process_signal","signal":9})") == "name the process by 'pid' or 'tag'");
  CHECK(why(R"({"type":"process_input","pid":5,"data":"***"})") == "'data' is not base64");
  CHECK(why(R"({"type":"process_list","pid":5})") == "unexpected field 'pid'");
  CHECK(why(R"({"type":"process_start","argv":["/bin/sh"],"command":"rm"})") == "unknown command 'rm'");
}

TEST_CASE("decode_request, execute's context, env and cwd; restart of one context") {
  auto e = decode_request(R"({"type":"execute","language":"python","code":"1","context":"c1","env":{"K":"v"},"cwd":"/tmp"})");
  REQUIRE(e.ok());
  CHECK(e->execute.context == "c1");
  CHECK(e->execute.env.at("K") == "v");
  auto again = decode_request(encode(*e).dump());
  CHECK(again->execute.cwd == "/tmp");
  CHECK(why(R"({"type":"execute","language":"python","code":"1","env":{"K":1}})") == "'env' must map short names to strings");
  auto r = decode_request(R"({"type":"restart","context":"c1","language":"javascript"})");
  REQUIRE(r.ok());
  CHECK(r->context == "c1");
  CHECK(decode_request(encode(*r).dump())->language == "javascript");
  CHECK(why(R"({"type":"restart","language":"cobol"})") == "unknown language 'cobol'");
}
