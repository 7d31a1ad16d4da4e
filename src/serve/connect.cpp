#include "connect.hpp"

#include <array>
#include <fmt/format.h>

namespace sandpit::serve::connect {
namespace {

struct CodeInfo {
  Code code;
  std::string_view name;
  int status;
};

constexpr std::array<CodeInfo, 16> k_codes{{{Code::canceled, "canceled", 499},
                                            {Code::unknown, "unknown", 500},
                                            {Code::invalid_argument, "invalid_argument", 400},
                                            {Code::deadline_exceeded, "deadline_exceeded", 504},
                                            {Code::not_found, "not_found", 404},
                                            {Code::already_exists, "already_exists", 409},
                                            {Code::permission_denied, "permission_denied", 403},
                                            {Code::resource_exhausted, "resource_exhausted", 429},
                                            {Code::failed_precondition, "failed_precondition", 400},
                                            {Code::aborted, "aborted", 409},
                                            {Code::out_of_range, "out_of_range", 400},
                                            {Code::unimplemented, "unimplemented", 501},
                                            {Code::internal, "internal", 500},
                                            {Code::unavailable, "unavailable", 503},
                                            {Code::data_loss, "data_loss", 500},
                                            {Code::unauthenticated, "unauthenticated", 401}}};

json error_json(Code code, const std::string& message) { return {{"code", code_name(code)}, {"message", message}}; }

// Messages nested deeper than this are refused before nlohmann walks them recursively.
constexpr int k_max_depth = 64;

json parse_bounded(std::string_view text) {
  bool too_deep = false;
  auto limit = [&](int depth, json::parse_event_t, json&) {
    if (depth > k_max_depth) too_deep = true;
    return !too_deep;
  };
  auto message = json::parse(text, limit, false);
  if (too_deep) throw RpcError(Code::invalid_argument, "the request message is nested too deeply");
  if (message.is_discarded() || !message.is_object()) throw RpcError(Code::invalid_argument, "the request message is not a JSON object");
  return message;
}

} // namespace

std::string_view code_name(Code code) {
  for (const auto& c : k_codes) {
    if (c.code == code) return c.name;
  }
  return "unknown";
}

int http_status(Code code) {
  for (const auto& c : k_codes) {
    if (c.code == code) return c.status;
  }
  return 500;
}

bool is_stream(const http::Request& req) {
  auto type = req.header("content-type");
  return type.rfind("application/connect+json", 0) == 0;
}

json request_message(const http::Request& req) {
  if (!is_stream(req)) return parse_bounded(req.body.empty() ? std::string_view("{}") : std::string_view(req.body));
  const auto& body = req.body;
  if (body.size() < 5) throw RpcError(Code::invalid_argument, "the stream request holds no envelope");
  const auto flags = static_cast<unsigned char>(body[0]);
  const std::uint32_t length = (static_cast<std::uint32_t>(static_cast<unsigned char>(body[1])) << 24) |
                               (static_cast<std::uint32_t>(static_cast<unsigned char>(body[2])) << 16) |
                               (static_cast<std::uint32_t>(static_cast<unsigned char>(body[3])) << 8) |
                               static_cast<std::uint32_t>(static_cast<unsigned char>(body[4]));
  if ((flags & 0x01) != 0) throw RpcError(Code::unimplemented, "compressed messages are not supported");
  if (body.size() != 5 + static_cast<std::size_t>(length)) throw RpcError(Code::invalid_argument, "the stream request must hold exactly one envelope");
  return parse_bounded(std::string_view(body).substr(5));
}

std::optional<std::int64_t> timeout_ms(const http::Request& req) {
  const auto text = req.header("connect-timeout-ms");
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const auto value = std::stoll(text);
  if (value <= 0) return std::nullopt;
  return value;
}

void unary_ok(http::Response& res, const json& message) { send_json(res, 200, message); }

void unary_error(http::Response& res, Code code, const std::string& message) { send_json(res, http_status(code), error_json(code, message)); }

Stream::Stream(http::Response& res) : m_res(res) { m_res.begin_stream(200, {{"Content-Type", "application/connect+json"}}); }

Stream::~Stream() {
  if (!m_ended) end(Code::internal, "the stream ended unexpectedly");
}

bool Stream::frame(unsigned char flags, const std::string& payload) {
  std::string out;
  out.reserve(payload.size() + 5);
  out.push_back(static_cast<char>(flags));
  const auto n = static_cast<std::uint32_t>(payload.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out += payload;
  return m_res.write(out);
}

bool Stream::send(const json& message) { return !m_ended && frame(0x00, message.dump(-1, ' ', false, json::error_handler_t::replace)); }

void Stream::end() {
  if (m_ended) return;
  m_ended = true;
  (void)frame(0x02, "{}");
  m_res.finish();
}

void Stream::end(Code code, const std::string& message) {
  if (m_ended) return;
  m_ended = true;
  (void)frame(0x02, json{{"error", error_json(code, message)}}.dump(-1, ' ', false, json::error_handler_t::replace));
  m_res.finish();
}

const json* field(const json& message, std::string_view camel, std::string_view snake) {
  if (!message.is_object()) return nullptr;
  if (auto it = message.find(camel); it != message.end() && !it->is_null()) return &*it;
  if (!snake.empty()) {
    if (auto it = message.find(snake); it != message.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

std::string string_field(const json& message, std::string_view camel, std::string_view snake) {
  const auto* f = field(message, camel, snake);
  if (f == nullptr) return {};
  if (!f->is_string()) throw RpcError(Code::invalid_argument, fmt::format("'{}' must be a string", camel));
  return f->get<std::string>();
}

std::optional<std::int64_t> int_field(const json& message, std::string_view camel, std::string_view snake) {
  const auto* f = field(message, camel, snake);
  if (f == nullptr) return std::nullopt;
  if (f->is_number_integer()) return f->get<std::int64_t>();
  if (f->is_string()) {
    const auto& s = f->get_ref<const std::string&>();
    if (!s.empty() && s.size() < 19 && s.find_first_not_of("0123456789") == std::string::npos) return std::stoll(s);
  }
  throw RpcError(Code::invalid_argument, fmt::format("'{}' must be an integer", camel));
}

bool bool_field(const json& message, std::string_view camel, std::string_view snake) {
  const auto* f = field(message, camel, snake);
  if (f == nullptr) return false;
  if (!f->is_boolean()) throw RpcError(Code::invalid_argument, fmt::format("'{}' must be true or false", camel));
  return f->get<bool>();
}

} // namespace sandpit::serve::connect
