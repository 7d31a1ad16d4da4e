#include "sandpit/policy/policy.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

namespace sandpit::policy {
namespace {

struct CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchFree {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
struct ContextFree {
  void operator()(pcre2_match_context* m) const { pcre2_match_context_free(m); }
};

// Keeps a hostile input from making one regex backtrack for minutes.
constexpr std::uint32_t k_match_limit = 10'000'000;

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    auto n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      out += "\xEF\xBF\xBD";
      n = 1;
    } else {
      out.append(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    }
    p += n;
    left -= n;
  }
  return out;
}

bool names(const config::Pattern& p, std::string_view language) {
  return std::find(p.languages.begin(), p.languages.end(), language) != p.languages.end();
}

// The languages whose patterns screen `language`'s code, for the patterns in [begin, end):
// TypeScript's are JavaScript's until the list names typescript itself.
std::vector<std::string_view> screened_as(const std::vector<config::Pattern>& patterns, std::size_t begin, std::size_t end,
                                          std::string_view language) {
  if (language != "typescript") return {language};
  const bool own = std::any_of(patterns.begin() + static_cast<std::ptrdiff_t>(begin), patterns.begin() + static_cast<std::ptrdiff_t>(end),
                               [](const config::Pattern& p) { return names(p, "typescript"); });
  if (own) return {language};
  return {language, "javascript"};
}

bool applies(const config::Pattern& p, const std::vector<std::string_view>& languages) {
  return p.languages.empty() || std::any_of(languages.begin(), languages.end(), [&](std::string_view l) { return names(p, l); });
}

std::size_t line_at(std::string_view text, std::size_t offset) {
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

} // namespace

std::string nfkc(std::string_view text) {
  auto valid = valid_utf8(text);
  utf8proc_uint8_t* mapped = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()), static_cast<utf8proc_ssize_t>(valid.size()),
                        &mapped, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE));
  if (n < 0) return valid;
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(n));
  std::free(mapped);
  return out;
}

std::vector<Finding> screen(const config::Config& config, std::string_view language, std::string_view code) {
  std::vector<Finding> findings;
  if (config.policy_mode == config::PolicyMode::off) return findings;
  const std::string text = nfkc(code);
  std::unique_ptr<pcre2_match_context, ContextFree> context(pcre2_match_context_create(nullptr));
  pcre2_set_match_limit(context.get(), k_match_limit);
  // The system's list and a user's additions are read apart: a user's typescript entry
  // must not take the system's JavaScript patterns away from TypeScript cells.
  const auto system_end = std::min(config.system_patterns, config.patterns.size());
  const std::array as = {screened_as(config.patterns, 0, system_end, language),
                         screened_as(config.patterns, system_end, config.patterns.size(), language)};
  for (std::size_t i = 0; i < config.patterns.size(); ++i) {
    const auto& pattern = config.patterns[i];
    if (!applies(pattern, as[i < system_end ? 0 : 1])) continue;
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    std::unique_ptr<pcre2_code, CodeFree> re(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.regex.data()), pattern.regex.size(),
                                                           PCRE2_UTF | PCRE2_MULTILINE, &error, &error_offset, nullptr));
    if (!re) continue; // the config loader has already refused a regex that does not compile
    std::unique_ptr<pcre2_match_data, MatchFree> match(pcre2_match_data_create_from_pattern(re.get(), nullptr));
    int rc = pcre2_match(re.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, match.get(), context.get());
    if (rc >= 0) {
      findings.push_back({pattern.reason, line_at(text, pcre2_get_ovector_pointer(match.get())[0]), pattern.origin});
    } else if (rc != PCRE2_ERROR_NOMATCH) {
      findings.push_back({pattern.reason + " (the screen gave up on this code, so it counts as a match)", 1, pattern.origin});
    }
  }
  return findings;
}

} // namespace sandpit::policy
