// The Connect protocol as envd serves it, JSON codec: unary calls, server streams of enveloped messages, and errors.
#pragma once

#include "common.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace sandpit::serve::connect {

enum class Code {
  canceled, unknown, invalid_argument, deadline_exceeded, not_found, already_exists, permission_denied, resource_exhausted,
  failed_precondition, aborted, out_of_range, unimplemented, internal, unavailable, data_loss, unauthenticated
};
std::string_view code_name(Code code);
int http_status(Code code);

// What a handler throws to end a call with an error.
struct RpcError : std::runtime_error {
  RpcError(Code c, const std::string& message) : std::runtime_error(message), code(c) {}
  Code code;
};

// Whether the request is a server-streaming call (application/connect+json).
bool is_stream(const http::Request& req);
// The request message: the JSON body of a unary call, or the one envelope of a
// streaming call. Throws RpcError(invalid_argument) on anything else.
json request_message(const http::Request& req);
// Connect-Timeout-Ms, when the client set one.
std::optional<std::int64_t> timeout_ms(const http::Request& req);

void unary_ok(http::Response& res, const json& message);
void unary_error(http::Response& res, Code code, const std::string& message);

// A server stream: HTTP 200 at once, then one envelope per message, then the
// end-stream frame (always: an error, or {}). Every frame is flushed.
class Stream {
public:
  explicit Stream(http::Response& res);
  ~Stream(); // ends with an internal error if nobody ended it
  // false once the client has gone.
  bool send(const json& message);
  void end();
  void end(Code code, const std::string& message);
  http::Response& response() { return m_res; }

private:
  bool frame(unsigned char flags, const std::string& payload);
  http::Response& m_res;
  bool m_ended = false;
};

// A field in camelCase or snake_case (protobuf JSON accepts both).
const json* field(const json& message, std::string_view camel, std::string_view snake = {});
std::string string_field(const json& message, std::string_view camel, std::string_view snake = {});
// An integer that protobuf JSON may send as a number or a string.
std::optional<std::int64_t> int_field(const json& message, std::string_view camel, std::string_view snake = {});
bool bool_field(const json& message, std::string_view camel, std::string_view snake = {});

} // namespace sandpit::serve::connect
