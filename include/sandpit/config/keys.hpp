// The key table: every config key with its type, default, one-line doc and who may set it.
#pragma once

#include <span>
#include <string_view>

namespace sandpit::config {

enum class KeyType { duration, size, integer, number, boolean, string, string_list };

// Who may set a key. `system` keys loosen isolation or grant access: once the
// system config exists they are taken only from it.
enum class SetBy { anyone, system };

struct KeyInfo {
  std::string_view name;          // "limits.timeout"
  KeyType type;
  std::string_view default_value; // as a TOML value: "\"30s\"", "false", "[\"/usr\"]"
  std::string_view doc;
  SetBy set_by;
};

std::span<const KeyInfo> key_table();
const KeyInfo* find_key(std::string_view name);
std::string_view type_name(KeyType type);

} // namespace sandpit::config
