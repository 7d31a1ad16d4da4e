// Parsing and printing of the human units the config and flags use: durations and byte sizes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sandpit::units {

using Millis = std::chrono::milliseconds;

// "30s", "2m", "1h", "250ms", "1.5s" or a bare number of seconds. nullopt if malformed or negative.
std::optional<Millis> parse_duration(std::string_view text);
// "512MiB", "1GiB", "64k", "100MB" (decimal), or a bare number of bytes.
std::optional<std::uint64_t> parse_size(std::string_view text);

// The shortest exact form: "30s", "2m", "1500ms".
std::string format_duration(Millis d);
// The largest binary unit that divides exactly: "512MiB", "1GiB", "1000B".
std::string format_size(std::uint64_t bytes);

} // namespace sandpit::units
