// Language: the languages sandpit runs, their names, aliases and file extensions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::kernels {

enum class Language { python, javascript, bash, typescript };

// "python"/"py", "javascript"/"js"/"node", "typescript"/"ts", "bash"/"sh"; nullopt otherwise.
std::optional<Language> parse_language(std::string_view name);
// From a file name's extension (.py, .js/.mjs/.cjs, .ts/.mts/.cts, .sh/.bash).
std::optional<Language> language_for_file(std::string_view path);
std::string_view name_of(Language language);
std::vector<std::string> language_names(); // every accepted spelling, for help and completion
// "python, javascript, typescript or bash": the canonical names, for messages.
std::string_view language_list();

// The language whose kernel runs `language`'s cells: TypeScript cells run in the
// Node.js kernel, beside JavaScript's and sharing its globals. Bash has no kernel.
Language kernel_of(Language language);

} // namespace sandpit::kernels
