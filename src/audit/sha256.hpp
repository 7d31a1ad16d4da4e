// SHA-256 of two concatenated pieces, for the audit chain: OpenSSL's digest without its library setup.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace sandpit::audit {

// The digest of `a` followed by `b`.
std::array<unsigned char, 32> sha256(std::string_view a, std::string_view b = {});

// True when `text` is the 64 lowercase hex digits of `digest`.
bool hex_equals(std::string_view text, const std::array<unsigned char, 32>& digest);

} // namespace sandpit::audit
