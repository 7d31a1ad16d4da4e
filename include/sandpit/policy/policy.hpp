// Policy: the dangerous-pattern screen, the caller's identity, and what that identity may do.
#pragma once

#include "sandpit/config/config.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace sandpit::policy {

// One pattern that matched the code.
struct Finding {
  std::string reason;
  std::size_t line = 0; // 1-based, in the NFKC-normalised code
  std::string origin;   // where the pattern was configured
};

// Screens `code` against every pattern for `language` ("python", "javascript",
// "typescript", "bash"); TypeScript code meets the JavaScript patterns unless the
// list (the system's, or the user's additions to it) names typescript. The code is NFKC-normalised first (as Python normalises
// identifiers), comments included. A pattern whose match gives up (PCRE2's
// match limit) counts as a match: the screen fails closed.
std::vector<Finding> screen(const config::Config& config, std::string_view language, std::string_view code);

// NFKC normalisation; invalid UTF-8 sequences become U+FFFD.
std::string nfkc(std::string_view text);

struct Identity {
  std::string user;
  bool admin = false;
};

// identity.user when set, else the login name of the effective uid (from the
// password database, never from $USER), else "uid <n>".
Identity identify(const config::Config& config);

bool may_exec(const config::Config& config, const Identity& who);
// Reading other users' audit records and stats.
bool may_read_all(const config::Config& config, const Identity& who);

} // namespace sandpit::policy
