// What the protocol's decoders share: field checks, and the process_* requests (protocol_process.cpp).
#pragma once

#include "sandpit/session/protocol.hpp"

#include <initializer_list>

namespace sandpit::session::protocol::detail {

Failure bad(std::string why);
// Every field the request may carry, and nothing else.
std::optional<Failure> check_fields(const nlohmann::json& message, std::initializer_list<std::string_view> allowed);
// A bounded object of strings, at `env`.
std::optional<Failure> decode_env(const nlohmann::json& m, std::map<std::string, std::string>& env);
// A one-line string field of at most `max` bytes, when present.
std::optional<Failure> decode_string(const nlohmann::json& m, const char* name, std::string& out, std::size_t max);
// user, command, client into r.execute.
Result<Request> decode_caller(const nlohmann::json& m, Request& r);

bool is_process_request(RequestType type);
Result<Request> decode_process(const nlohmann::json& m, RequestType type);
void encode_process(const Request& r, nlohmann::json& m);

} // namespace sandpit::session::protocol::detail
