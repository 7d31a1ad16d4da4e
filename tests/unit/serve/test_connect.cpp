#include "../../../src/serve/connect.hpp"

#include <doctest/doctest.h>

using namespace sandpit::serve;
using connect::Code;

namespace {

http::Request stream_request(const std::string& message, int extra = 0) {
  http::Request req;
  req.headers["content-type"] = "application/connect+json";
  const auto n = static_cast<std::uint32_t>(message.size() + static_cast<std::size_t>(extra));
  req.body = std::string(1, '\0') + char(n >> 24) + char((n >> 16) & 0xff) + char((n >> 8) & 0xff) + char(n & 0xff) + message;
  return req;
}

Code code_of(const http::Request& req) {
  try {
    connect::request_message(req);
  } catch (const connect::RpcError& e) {
    return e.code;
  }
  return Code::unknown;
}

} // namespace

TEST_CASE("connect::request_message, unary and enveloped") {
  http::Request unary;
  unary.headers["content-type"] = "application/json";
  unary.body = R"({"path":"/home/user","depth":"2"})";
  auto m = connect::request_message(unary);
  CHECK(connect::string_field(m, "path") == "/home/user");
  CHECK(connect::int_field(m, "depth") == 2);
  unary.body.clear();
  CHECK(connect::request_message(unary) == nlohmann::json::object());
  auto s = stream_request(R"({"process":{"pid":7}})");
  CHECK(connect::is_stream(s));
  CHECK(connect::request_message(s)["process"]["pid"] == 7);
}

TEST_CASE("connect::request_message, refusals") {
  CHECK(code_of(stream_request("{}", 3)) == Code::invalid_argument);          // length lies
  CHECK(code_of(stream_request("[1]")) == Code::invalid_argument);            // not an object
  auto compressed = stream_request("{}");
  compressed.body[0] = 1;
  CHECK(code_of(compressed) == Code::unimplemented);
  http::Request deep;
  deep.body = std::string(200, '[') + std::string(200, ']');
  CHECK(code_of(deep) == Code::invalid_argument);
  http::Request wrong;
  wrong.body = R"({"depth": true})";
  CHECK_THROWS_AS(connect::int_field(connect::request_message(wrong), "depth"), connect::RpcError);
}

TEST_CASE("connect codes map to the statuses connect-go uses") {
  CHECK(connect::code_name(Code::not_found) == "not_found");
  CHECK(connect::http_status(Code::not_found) == 404);
  CHECK(connect::http_status(Code::unauthenticated) == 401);
  CHECK(connect::http_status(Code::deadline_exceeded) == 504);
  CHECK(connect::http_status(Code::already_exists) == 409);
  CHECK(connect::http_status(Code::canceled) == 499);
}

TEST_CASE("connect::field reads camelCase or snake_case, never a null") {
  auto m = nlohmann::json::parse(R"({"watcher_id":"w1","includeEntry":true,"tag":null})");
  CHECK(connect::string_field(m, "watcherId", "watcher_id") == "w1");
  CHECK(connect::bool_field(m, "includeEntry", "include_entry"));
  CHECK(connect::field(m, "tag") == nullptr);
}
