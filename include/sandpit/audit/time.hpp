// Audit timestamps: the UTC text form, the clock seam, and --since/--until parsing.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sandpit::audit {

// Milliseconds since the Unix epoch; a seam so tests get fixed timestamps.
using Clock = std::function<std::int64_t()>;
// The system clock (CLOCK_REALTIME) in ms.
std::int64_t system_now_ms();

// "2025-01-04T19:30:45.123Z".
std::string format_ts(std::int64_t ms);
// The inverse of format_ts for exactly that shape; nullopt otherwise. The reader's fast path.
std::optional<std::int64_t> parse_ts(std::string_view text);

// A --since/--until argument as ms since the epoch, or nullopt if it is neither:
//  - ISO 8601: "2025-01-04", "2025-01-04T19:30", "2025-01-04T19:30:45", "2025-01-04T19:30:45.123",
//    optionally followed by "Z" or an offset "+02:00" / "-0530"; no zone means UTC.
//    A space may stand for the "T".
//  - a duration ago: "90s", "30m", "2h", "7d", "1w" (now_ms minus it).
std::optional<std::int64_t> parse_time(std::string_view text, std::int64_t now_ms);

} // namespace sandpit::audit
