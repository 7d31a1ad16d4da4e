#include "arguments.hpp"

#include "sandpit/util/strings.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>

namespace sandpit::mcp {
namespace {

using nlohmann::json;

// A value as the client sent it, short enough to quote.
std::string shown_value(const json& value) {
  auto text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

std::string type_of(const json& value) {
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_null()) return "null";
  if (value.is_array()) return "an array";
  return "an object";
}

} // namespace

bool valid_session_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; });
}

Arguments::Arguments(const json& arguments, std::vector<std::string> known) : m_arguments(arguments) {
  for (const auto& [key, value] : arguments.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    auto near = strings::closest(key, known);
    throw BadArgument(fmt::format("unknown argument '{}'{} (this tool takes {})", key, near.empty() ? "" : " (did you mean '" + near + "'?)",
                                  strings::join(known, ", ")));
  }
}

const json* Arguments::find(const std::string& name) const {
  if (!m_arguments.contains(name) || m_arguments[name].is_null()) return nullptr;
  return &m_arguments[name];
}

std::optional<std::string> Arguments::string(const std::string& name, std::size_t max_bytes) const {
  const auto* value = find(name);
  if (!value) return std::nullopt;
  if (!value->is_string()) throw BadArgument(fmt::format("'{}' must be a string, got {}", name, type_of(*value)));
  auto text = value->get<std::string>();
  if (text.size() > max_bytes) throw BadArgument(fmt::format("'{}' is longer than {} bytes", name, max_bytes));
  // Names and paths end at a NUL where the kernel reads them; code is the kernel's to refuse.
  if (name != "code" && text.find('\0') != std::string::npos) throw BadArgument(fmt::format("'{}' contains a NUL byte", name));
  return text;
}

std::string Arguments::required_string(const std::string& name, std::size_t max_bytes) const {
  auto text = string(name, max_bytes);
  if (!text) throw BadArgument(fmt::format("'{}' is required", name));
  return *text;
}

std::string Arguments::choice(const std::string& name, const std::vector<std::string>& choices, const std::string& fallback) const {
  const auto* value = find(name);
  if (!value) return fallback;
  if (value->is_string() && std::find(choices.begin(), choices.end(), value->get<std::string>()) != choices.end()) {
    return value->get<std::string>();
  }
  throw BadArgument(fmt::format("'{}' must be one of {}, got {}", name, strings::join(choices, ", "), shown_value(*value)));
}

std::optional<double> Arguments::positive_number(const std::string& name, double max, const std::string& max_shown) const {
  const auto* value = find(name);
  if (!value) return std::nullopt;
  if (!value->is_number()) throw BadArgument(fmt::format("'{}' must be a number, got {}", name, type_of(*value)));
  const double v = value->get<double>();
  if (!std::isfinite(v) || v <= 0) throw BadArgument(fmt::format("'{}' must be greater than 0, got {}", name, shown_value(*value)));
  if (v > max) throw BadArgument(fmt::format("'{}' may be at most {}, got {}", name, max_shown, shown_value(*value)));
  return v;
}

std::vector<std::string> Arguments::strings(const std::string& name, std::size_t max_items, std::size_t max_bytes) const {
  const auto* value = find(name);
  std::vector<std::string> out;
  if (value == nullptr) return out;
  if (!value->is_array() || value->size() > max_items) {
    throw BadArgument(fmt::format("'{}' must be a list of at most {} strings", name, max_items));
  }
  for (const auto& item : *value) {
    if (!item.is_string() || item.get<std::string>().size() > max_bytes) {
      throw BadArgument(fmt::format("'{}' must hold strings of at most {} bytes", name, max_bytes));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

bool Arguments::boolean(const std::string& name, bool fallback) const {
  const auto* value = find(name);
  if (!value) return fallback;
  if (!value->is_boolean()) throw BadArgument(fmt::format("'{}' must be true or false, got {}", name, shown_value(*value)));
  return value->get<bool>();
}

std::string Arguments::session() const {
  auto name = string("session", 64 * 4);
  if (!name) return "default";
  if (!valid_session_name(*name)) {
    throw BadArgument(fmt::format("'session' must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit, got {}",
                                  shown_value(json(*name))));
  }
  return *name;
}

} // namespace sandpit::mcp
