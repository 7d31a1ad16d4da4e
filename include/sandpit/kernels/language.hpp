// Language: the languages sandpit runs, their names, aliases and file extensions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::kernels {

enum class Language { python, javascript, bash };

// "python"/"py", "javascript"/"js"/"node", "bash"/"sh"; nullopt otherwise.
std::optional<Language> parse_language(std::string_view name);
// From a file name's extension (.py, .js/.mjs/.cjs, .sh/.bash).
std::optional<Language> language_for_file(std::string_view path);
std::string_view name_of(Language language);
std::vector<std::string> language_names(); // every accepted spelling, for help and completion

} // namespace sandpit::kernels
