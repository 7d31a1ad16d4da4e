// Setting one key from a TOML node: type checks, minimums and the system config's ceilings.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/config/keys.hpp"

#include <string>
#include <toml++/toml.h>

namespace sandpit::config {

// Where a value comes from while a document is applied.
struct Origin {
  std::string file; // "(default)" or a path
  Source::Kind kind;
  // True once a system config has been read and this source is not it.
  bool restricted(const Config& config) const { return config.system_limits.has_value() && kind != Source::Kind::system; }
};

[[noreturn]] void fail_at(const std::string& file, const toml::source_region& where, const std::string& why);
std::string describe(const toml::node& node);

void set_value(Config& config, const KeyInfo& key, const toml::node& node, const Origin& origin);
// policy.patterns (patterns.cpp).
void set_patterns(Config& config, const KeyInfo& key, const toml::node& node, const Origin& origin);

} // namespace sandpit::config
