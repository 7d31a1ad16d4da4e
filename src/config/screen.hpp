// screen_toml: refuses config bytes that the TOML library cannot be trusted with (see screen.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sandpit::config {

struct ScreenError {
  std::size_t line;
  std::size_t column;
  std::string why;
};

std::optional<ScreenError> screen_toml(std::string_view text);

// `text` with every non-ASCII character replaced by '!', which TOML accepts in
// strings and comments and nowhere else. If this stand-in parses, the original's
// non-ASCII text sits only where toml++ handles it safely. Empty when `text` is ASCII.
std::string ascii_stand_in(std::string_view text);

} // namespace sandpit::config
