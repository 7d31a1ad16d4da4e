#include "sandpit/util/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <fmt/format.h>

namespace sandpit::units {
namespace {

struct Unit {
  std::string_view suffix;
  double factor;
};

// Splits "1.5GiB" into 1.5 and "GiB". nullopt when the number part is malformed.
std::optional<std::pair<double, std::string_view>> split_number(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, value);
  if (ec != std::errc{} || ptr != text.data() + i || !std::isfinite(value)) return std::nullopt;
  std::string_view suffix = text.substr(i);
  while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  return std::make_pair(value, suffix);
}

template <std::size_t N>
std::optional<double> scale(std::string_view text, const std::array<Unit, N>& table) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  for (const auto& unit : table) {
    if (parts->second == unit.suffix) return parts->first * unit.factor;
  }
  return std::nullopt;
}

} // namespace

std::optional<Millis> parse_duration(std::string_view text) {
  static constexpr std::array<Unit, 6> table{{
      {"", 1000.0}, {"ms", 1.0}, {"s", 1000.0}, {"m", 60'000.0}, {"h", 3'600'000.0}, {"d", 86'400'000.0}}};
  auto ms = scale(text, table);
  if (!ms || *ms > 1e15) return std::nullopt;
  return Millis(static_cast<std::int64_t>(std::llround(*ms)));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  constexpr double k = 1024.0;
  static constexpr std::array<Unit, 14> table{{{"", 1},
                                               {"B", 1},
                                               {"k", k},
                                               {"K", k},
                                               {"KiB", k},
                                               {"M", k * k},
                                               {"MiB", k * k},
                                               {"G", k * k * k},
                                               {"GiB", k * k * k},
                                               {"TiB", k * k * k * k},
                                               {"kB", 1e3},
                                               {"KB", 1e3},
                                               {"MB", 1e6},
                                               {"GB", 1e9}}};
  auto bytes = scale(text, table);
  if (!bytes || *bytes > 1.8e19) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(*bytes));
}

std::string format_duration(Millis d) {
  auto ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::pair<const char*, std::uint64_t>, 4> table{
      {{"TiB", 1ULL << 40}, {"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}}};
  for (const auto& [name, factor] : table) {
    if (bytes != 0 && bytes % factor == 0) return fmt::format("{}{}", bytes / factor, name);
  }
  return fmt::format("{}B", bytes);
}

} // namespace sandpit::units
