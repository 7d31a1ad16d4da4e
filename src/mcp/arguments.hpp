// Arguments: a tool call's arguments checked one by one (types, enum values, ranges, patterns), since clients pass anything through.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::mcp {

// A bad argument: the message names it and says what was expected. Tools turn it into an isError result.
class BadArgument : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class Arguments {
public:
  // Refuses any argument not in `known` (with "did you mean" for a near miss).
  Arguments(const nlohmann::json& arguments, std::vector<std::string> known);

  std::optional<std::string> string(const std::string& name, std::size_t max_bytes) const;
  std::string required_string(const std::string& name, std::size_t max_bytes) const;
  // One of `choices`; `fallback` when absent.
  std::string choice(const std::string& name, const std::vector<std::string>& choices, const std::string& fallback) const;
  // A number in (0, max]; nullopt when absent.
  std::optional<double> positive_number(const std::string& name, double max, const std::string& max_shown) const;
  bool boolean(const std::string& name, bool fallback) const;
  // A list of at most `max_items` strings of at most `max_bytes` each; empty when absent.
  std::vector<std::string> strings(const std::string& name, std::size_t max_items, std::size_t max_bytes) const;
  // The session name: [A-Za-z0-9][A-Za-z0-9_.-]{0,63}, "default" when absent.
  std::string session() const;

private:
  const nlohmann::json* find(const std::string& name) const;
  nlohmann::json m_arguments;
};

// Whether `name` can name a session (and so a folder): letters, digits, '_', '.', '-', starting with a letter or digit.
bool valid_session_name(std::string_view name);

} // namespace sandpit::mcp
