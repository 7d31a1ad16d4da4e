#include "sandpit/kernels/language.hpp"

#include "sandpit/kernels/drivers.hpp"

#include <fmt/format.h>

#include <array>

namespace sandpit::kernels {
namespace {

struct Alias {
  std::string_view name;
  Language language;
};

constexpr std::array<Alias, 9> k_aliases{{{"python", Language::python},
                                         {"py", Language::python},
                                         {"javascript", Language::javascript},
                                         {"js", Language::javascript},
                                         {"node", Language::javascript},
                                         {"typescript", Language::typescript},
                                         {"ts", Language::typescript},
                                         {"bash", Language::bash},
                                         {"sh", Language::bash}}};

constexpr std::array<Alias, 9> k_extensions{{{".py", Language::python},
                                            {".js", Language::javascript},
                                            {".mjs", Language::javascript},
                                            {".cjs", Language::javascript},
                                            {".ts", Language::typescript},
                                            {".mts", Language::typescript},
                                            {".cts", Language::typescript},
                                            {".sh", Language::bash},
                                            {".bash", Language::bash}}};

} // namespace

std::optional<Language> parse_language(std::string_view name) {
  for (const auto& alias : k_aliases) {
    if (alias.name == name) return alias.language;
  }
  return std::nullopt;
}

std::optional<Language> language_for_file(std::string_view path) {
  auto dot = path.rfind('.');
  if (dot == std::string_view::npos || path.find('/', dot) != std::string_view::npos) return std::nullopt;
  for (const auto& ext : k_extensions) {
    if (ext.name == path.substr(dot)) return ext.language;
  }
  return std::nullopt;
}

std::string_view name_of(Language language) {
  switch (language) {
  case Language::python: return "python";
  case Language::javascript: return "javascript";
  case Language::typescript: return "typescript";
  case Language::bash: return "bash";
  }
  return "python";
}

std::string_view language_list() { return "python, javascript, typescript or bash"; }

Language kernel_of(Language language) { return language == Language::typescript ? Language::javascript : language; }

std::vector<std::string> language_names() {
  std::vector<std::string> out;
  for (const auto& alias : k_aliases) out.emplace_back(alias.name);
  return out;
}

std::string_view driver_source(Language language) {
  return kernel_of(language) == Language::javascript ? node_driver() : python_driver();
}

std::string python_loader() {
  return fmt::format("import os\nn, b = {}, b''\nwhile len(b) < n:\n    c = os.read(3, n - len(b))\n"
                     "    if not c: os._exit(1)\n    b += c\ndel n, c\nexec(compile(b, '<string>', 'exec'))",
                     python_driver().size());
}

std::string python_template_loader() {
  return fmt::format("import os\nn, b = {}, b''\nwhile len(b) < n:\n    c = os.read(4, n - len(b))\n"
                     "    if not c: os._exit(1)\n    b += c\ndel n, c\nexec(compile(b, '<sandpit-template>', 'exec'))",
                     python_template().size());
}

std::string node_loader() {
  // A block, so that its names do not take the global scope's from the user's cells.
  return fmt::format("{{ const n = {}, b = Buffer.alloc(n); let o = 0; while (o < n) {{ const r = require('fs').readSync(3, b, o, n - o, null); "
                     "if (r === 0) process.exit(1); o += r; }} "
                     "require('vm').runInThisContext('(function (require) {{' + b.toString() + '\\n}})', {{ filename: 'sandpit-driver' }})(require); }}",
                     node_driver().size());
}

} // namespace sandpit::kernels
