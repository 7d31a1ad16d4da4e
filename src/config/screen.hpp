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

} // namespace sandpit::config
