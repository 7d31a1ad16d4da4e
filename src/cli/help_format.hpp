// Help text shaped to the terminal it is shown on.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>

namespace sandpit::cli {

// CLI11's help layout, with each description wrapped to `width` columns under
// itself; below its option, indented, when the terminal is narrower than 60.
// Install it only for a terminal: help piped elsewhere keeps CLI11's layout.
std::shared_ptr<CLI::Formatter> wrapping_formatter(std::size_t width);

} // namespace sandpit::cli
