#include "sandpit/audit/time.hpp"

#include <fmt/format.h>

#include <charconv>
#include <chrono>

namespace sandpit::audit {

namespace {

namespace chr = std::chrono;

constexpr std::int64_t k_ms_per_day = 86'400'000;

// Reads exactly `width` digits at `pos`; advances `pos`.
std::optional<int> digits(std::string_view text, std::size_t& pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

bool take(std::string_view text, std::size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

std::optional<std::int64_t> days_since_epoch(int y, int m, int d) {
  chr::year_month_day date{chr::year{y}, chr::month{static_cast<unsigned>(m)}, chr::day{static_cast<unsigned>(d)}};
  if (!date.ok()) return std::nullopt;
  return chr::sys_days{date}.time_since_epoch().count();
}

// "Z", "+02:00", "+0200", "-05:30", or nothing (UTC): the offset east of UTC in ms.
std::optional<std::int64_t> zone(std::string_view text, std::size_t& pos) {
  if (pos == text.size()) return 0;
  if (take(text, pos, 'Z') || take(text, pos, 'z')) return pos == text.size() ? std::optional<std::int64_t>(0) : std::nullopt;
  int sign = take(text, pos, '+') ? 1 : take(text, pos, '-') ? -1 : 0;
  if (sign == 0) return std::nullopt;
  auto hh = digits(text, pos, 2);
  take(text, pos, ':');
  auto mm = digits(text, pos, 2);
  if (!hh || !mm || *hh > 23 || *mm > 59 || pos != text.size()) return std::nullopt;
  return sign * (*hh * 3'600'000LL + *mm * 60'000LL);
}

// Milliseconds within the day from "HH:MM[:SS[.fff]]" at `pos`.
std::optional<std::int64_t> time_of_day(std::string_view text, std::size_t& pos) {
  auto hh = digits(text, pos, 2);
  if (!hh || !take(text, pos, ':')) return std::nullopt;
  auto mm = digits(text, pos, 2);
  if (!mm || *hh > 23 || *mm > 59) return std::nullopt;
  std::int64_t ms = *hh * 3'600'000LL + *mm * 60'000LL;
  if (!take(text, pos, ':')) return ms;
  auto ss = digits(text, pos, 2);
  if (!ss || *ss > 60) return std::nullopt;
  ms += *ss * 1000LL;
  if (!take(text, pos, '.')) return ms;
  // Fractions: the first three digits are milliseconds; finer ones are dropped.
  std::int64_t scale = 100;
  std::size_t start = pos;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    ms += (text[pos] - '0') * scale;
    scale /= 10;
    ++pos;
  }
  if (pos == start) return std::nullopt;
  return ms;
}

std::optional<std::int64_t> parse_iso(std::string_view text) {
  std::size_t pos = 0;
  auto y = digits(text, pos, 4);
  if (!y || !take(text, pos, '-')) return std::nullopt;
  auto m = digits(text, pos, 2);
  if (!m || !take(text, pos, '-')) return std::nullopt;
  auto d = digits(text, pos, 2);
  if (!d) return std::nullopt;
  auto days = days_since_epoch(*y, *m, *d);
  if (!days) return std::nullopt;
  std::int64_t ms = 0;
  if (take(text, pos, 'T') || take(text, pos, 't') || take(text, pos, ' ')) {
    auto in_day = time_of_day(text, pos);
    if (!in_day) return std::nullopt;
    ms = *in_day;
  }
  auto offset = zone(text, pos);
  if (!offset) return std::nullopt;
  return *days * k_ms_per_day + ms - *offset;
}

std::optional<std::int64_t> parse_ago(std::string_view text, std::int64_t now_ms) {
  if (text.size() < 2) return std::nullopt;
  std::int64_t unit = 0;
  switch (text.back()) {
  case 's': unit = 1000; break;
  case 'm': unit = 60'000; break;
  case 'h': unit = 3'600'000; break;
  case 'd': unit = k_ms_per_day; break;
  case 'w': unit = 7 * k_ms_per_day; break;
  default: return std::nullopt;
  }
  std::int64_t n = 0;
  auto digits_part = text.substr(0, text.size() - 1);
  auto [end, ec] = std::from_chars(digits_part.data(), digits_part.data() + digits_part.size(), n);
  if (ec != std::errc() || end != digits_part.data() + digits_part.size() || n < 0) return std::nullopt;
  if (n > (INT64_MAX / 2) / unit) return std::nullopt;
  return now_ms - n * unit;
}

} // namespace

std::int64_t system_now_ms() {
  return chr::duration_cast<chr::milliseconds>(chr::system_clock::now().time_since_epoch()).count();
}

std::string format_ts(std::int64_t ms) {
  chr::sys_time<chr::milliseconds> t{chr::milliseconds{ms}};
  auto day = chr::floor<chr::days>(t);
  chr::year_month_day date{day};
  chr::hh_mm_ss<chr::milliseconds> tod{t - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), tod.hours().count(),
                     tod.minutes().count(), tod.seconds().count(), tod.subseconds().count());
}

std::optional<std::int64_t> parse_ts(std::string_view text) {
  // The exact shape format_ts writes: 24 bytes ending in ".mmmZ".
  if (text.size() != 24 || text[10] != 'T' || text[19] != '.' || text[23] != 'Z') return std::nullopt;
  return parse_iso(text);
}

std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now_ms) {
  if (text.empty()) return std::nullopt;
  if (text.size() >= 10 && text[4] == '-') return parse_iso(text);
  return parse_ago(text, now_ms);
}

} // namespace sandpit::audit
