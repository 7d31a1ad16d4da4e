// The key table: every config key with its type, default, one-line doc and who may set it.
#pragma once

#include <span>
#include <string_view>

namespace sandpit::config {

enum class KeyType { duration, size, integer, number, boolean, string, choice, string_list, pattern_list, string_map };

// Who may set a key once a system config exists. `system` keys grant access or
// loosen isolation: only the system config sets them. `tighten` keys may be set
// by anyone, but only to a value at least as strict as the system config's.
enum class SetBy { anyone, tighten, system };

struct KeyInfo {
  std::string_view name;          // "limits.timeout"
  KeyType type;
  std::string_view default_value; // as a TOML value: "\"30s\"", "false", "[\"/usr\"]"
  std::string_view doc;
  SetBy set_by;
  std::string_view choices = {}; // KeyType::choice: "keep|kill", strictest last for `tighten` keys
};

std::span<const KeyInfo> key_table();
const KeyInfo* find_key(std::string_view name);
// "a size like \"512MiB\"", or for a choice: "\"keep\" or \"kill\"".
std::string type_name(const KeyInfo& key);

} // namespace sandpit::config
