// What every part of `sandpit serve` shares: JSON answers, E2B's error shapes and the timestamp formats its clients parse.
#pragma once

#include "http.hpp"

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

namespace sandpit::serve {

using nlohmann::json;
using SystemClock = std::chrono::system_clock;

// "2025-01-01T00:00:00.000Z": the control plane's dates (RFC 3339, UTC, milliseconds).
std::string iso_millis(SystemClock::time_point t);
// "2025-01-01T00:00:00.123456+00:00": the code interpreter's stream timestamps (Python's isoformat()).
std::string iso_micros(SystemClock::time_point t);
// "2025-01-01T00:00:00.123456789Z": a protobuf Timestamp in JSON.
std::string proto_timestamp(const timespec& t);

// A JSON body with Content-Type application/json.
void send_json(http::Response& res, int status, const json& body, http::Headers extra = {});
// E2B's error body, {"code": <status>, "message": "..."}: the SDKs read `code` from it.
void send_error(http::Response& res, int status, const std::string& message);
// A plain-text body (the code interpreter's own errors are text).
void send_text(http::Response& res, int status, const std::string& text);

// Random lowercase hex of `bytes` bytes (getrandom), for ids, tokens and keys.
std::string random_hex(std::size_t bytes);
// Random [a-z0-9] of `length` characters: a sandbox id as E2B makes them.
std::string random_id(std::size_t length);
// Constant-time comparison of two secrets.
bool same_secret(std::string_view a, std::string_view b);

} // namespace sandpit::serve
