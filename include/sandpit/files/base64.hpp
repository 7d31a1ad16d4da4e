// Base64 (RFC 4648, with padding) through libcrypto: images in results, file contents in MCP calls.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sandpit::files {

// The bytes `text` encodes; ASCII whitespace (MIME line breaks) is ignored. nullopt when it is not base64.
std::optional<std::string> decode_base64(std::string_view text);
std::string encode_base64(std::string_view bytes);

} // namespace sandpit::files
