// policy.patterns: the dangerous-pattern list, each regex compiled once here so a bad one is reported at load time.
#include "values.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace sandpit::config {
namespace {

constexpr std::array k_languages{"python", "javascript", "typescript", "bash"};

// PCRE2's message and the character it stopped at, or "" when the regex compiles.
std::string regex_error(const std::string& regex) {
  int code = 0;
  PCRE2_SIZE offset = 0;
  auto* compiled = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(), PCRE2_UTF | PCRE2_MULTILINE,
                                 &code, &offset, nullptr);
  if (compiled != nullptr) {
    pcre2_code_free(compiled);
    return "";
  }
  std::array<PCRE2_UCHAR, 256> message{};
  pcre2_get_error_message(code, message.data(), message.size());
  return fmt::format("{} at character {}", reinterpret_cast<const char*>(message.data()), offset);
}

std::string place(const Origin& origin, const toml::node& node) {
  const auto& at = node.source().begin;
  return at.line == 0 ? origin.file : fmt::format("{}:{}:{}", origin.file, at.line, at.column);
}

Pattern parse_entry(const toml::node& item, std::size_t index, const Origin& origin) {
  const std::string name = fmt::format("policy.patterns[{}]", index);
  const auto* table = item.as_table();
  if (table == nullptr) fail_at(origin.file, item.source(), name + ": expected a table {languages, regex, reason}");
  Pattern p;
  p.origin = place(origin, item);
  p.file = origin.file;
  for (const auto& [k, v] : *table) {
    const std::string field(k.str());
    if (field == "regex" || field == "reason") {
      auto s = v.value_exact<std::string>();
      if (!s || s->empty()) fail_at(origin.file, v.source(), fmt::format("{}.{}: expected a non-empty string, got {}", name, field, describe(v)));
      (field == "regex" ? p.regex : p.reason) = *s;
    } else if (field == "languages") {
      const auto* list = v.as_array();
      if (list == nullptr) fail_at(origin.file, v.source(), fmt::format("{}.languages: expected a list of strings", name));
      for (const auto& l : *list) {
        auto s = l.value_exact<std::string>();
        if (!s || std::find(k_languages.begin(), k_languages.end(), *s) == k_languages.end()) {
          fail_at(origin.file, l.source(), fmt::format("{}.languages: expected \"python\", \"javascript\", \"typescript\" or \"bash\", got {}", name, describe(l)));
        }
        p.languages.push_back(*s);
      }
    } else {
      fail_at(origin.file, k.source(), fmt::format("{}: unknown field '{}' (expected languages, regex, reason)", name, field));
    }
  }
  if (p.regex.empty() || p.reason.empty()) fail_at(origin.file, item.source(), name + ": needs both regex and reason");
  if (auto why = regex_error(p.regex); !why.empty()) {
    fail_at(origin.file, table->get("regex")->source(), fmt::format("{}.regex: {}", name, why));
  }
  return p;
}

} // namespace

void set_patterns(Config& config, const KeyInfo& key, const toml::node& node, const Origin& origin) {
  const auto* array = node.as_array();
  if (array == nullptr) fail_at(origin.file, node.source(), fmt::format("{}: expected {}, got {}", key.name, type_name(key), describe(node)));
  std::vector<Pattern> parsed;
  for (std::size_t i = 0; i < array->size(); ++i) parsed.push_back(parse_entry(*array->get(i), i, origin));
  // Under a system config a user's list adds to the system's; it never replaces it.
  if (origin.restricted(config)) config.patterns.resize(config.system_patterns);
  else config.patterns.clear();
  for (auto& p : parsed) config.patterns.push_back(std::move(p));
}

} // namespace sandpit::config
