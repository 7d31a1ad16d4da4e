// `config show`: every effective value as TOML and JSON text, with its origin.
#include "sandpit/config/config.hpp"
#include "sandpit/config/keys.hpp"

#include <fmt/format.h>
#include <sstream>
#include <toml++/toml.h>

namespace sandpit::config {
namespace {

std::string as_json(const std::string& toml_value) {
  toml::table table;
  try {
    table = toml::parse("v = " + toml_value);
  } catch (const toml::parse_error&) {
    return "null";
  }
  std::ostringstream out;
  out << toml::json_formatter{table};
  // {"v": <value>} -> <value>
  auto text = out.str();
  auto colon = text.find(':');
  auto close = text.rfind('}');
  if (colon == std::string::npos || close == std::string::npos) return "null";
  auto value = text.substr(colon + 1, close - colon - 1);
  auto first = value.find_first_not_of(" \n\t");
  auto last = value.find_last_not_of(" \n\t");
  return first == std::string::npos ? "null" : value.substr(first, last - first + 1);
}

std::string toml_string(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

std::string pattern_toml(const Pattern& p) {
  std::string languages;
  for (const auto& l : p.languages) languages += (languages.empty() ? "" : ", ") + toml_string(l);
  return fmt::format("{{languages = [{}], regex = {}, reason = {}}}", languages, toml_string(p.regex), toml_string(p.reason));
}

} // namespace

std::vector<Shown> effective_values(const Config& config) {
  std::vector<Shown> out;
  for (const auto& key : key_table()) {
    const std::string name(key.name);
    if (key.type == KeyType::pattern_list) {
      for (std::size_t i = 0; i < config.patterns.size(); ++i) {
        const auto& p = config.patterns[i];
        auto text = pattern_toml(p);
        out.push_back({fmt::format("{}[{}]", name, i), text, as_json(text), p.file});
      }
      continue;
    }
    auto shown = config.shown.find(name);
    auto origin = config.origins.find(name);
    std::string text = shown != config.shown.end() ? shown->second : std::string(key.default_value);
    out.push_back({name, text, as_json(text), origin != config.origins.end() ? origin->second : "(default)"});
  }
  return out;
}

} // namespace sandpit::config
