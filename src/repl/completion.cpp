#include "sandpit/repl/completion.hpp"

#include "sandpit/util/strings.hpp"

#include <algorithm>
#include <filesystem>

namespace sandpit::repl {
namespace {

namespace fs = std::filesystem;

bool blank(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string> starting_with(const std::vector<std::string>& names, std::string_view prefix) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    if (strings::starts_with(name, prefix)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Host paths that start with `word` ("~/" is the home directory); directories end in '/'.
std::vector<std::string> paths_starting_with(const std::string& word) {
  auto slash = word.rfind('/');
  std::string dir_part = slash == std::string::npos ? "" : word.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? word : word.substr(slash + 1);
  fs::path dir = dir_part.empty() ? fs::path(".") : fs::path(dir_part);
  if (strings::starts_with(dir_part, "~/")) {
    const char* home = std::getenv("HOME");
    dir = fs::path(home != nullptr ? home : "") / dir_part.substr(2);
  }
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    auto name = entry.path().filename().string();
    if (!strings::starts_with(name, base) || (name[0] == '.' && base.empty())) continue;
    out.push_back(dir_part + name + (entry.is_directory(ec) ? "/" : ""));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Completion finish(const std::string& word, std::vector<std::string> candidates) {
  Completion c;
  if (candidates.empty()) return c;
  auto prefix = common_prefix(candidates);
  if (prefix.size() > word.size()) c.insert = prefix.substr(word.size());
  if (candidates.size() == 1 && prefix.back() != '/') c.insert += ' ';
  if (c.insert.empty()) c.choices = std::move(candidates);
  return c;
}

} // namespace

std::string common_prefix(const std::vector<std::string>& words) {
  if (words.empty()) return "";
  std::string prefix = words.front();
  for (const auto& w : words) {
    std::size_t n = 0;
    while (n < prefix.size() && n < w.size() && prefix[n] == w[n]) ++n;
    prefix.resize(n);
  }
  return prefix;
}

Result<std::vector<std::string>> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (blank(c) || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
    } else if (c == '\'' || c == '"') {
      auto close = i + 1;
      while (close < text.size() && text[close] != c) {
        if (c == '"' && text[close] == '\\' && close + 1 < text.size()) ++close;
        ++close;
      }
      if (close >= text.size()) return Failure{"usage", 0, std::string("unclosed ") + c};
      for (auto j = i + 1; j < close; ++j) {
        if (c == '"' && text[j] == '\\' && j + 1 < close && (text[j + 1] == '"' || text[j + 1] == '\\')) ++j;
        word += text[j];
      }
      i = close;
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

Completion complete(std::string_view before, const CompletionTable& table) {
  if (before.empty() || (before[0] != '.' && before[0] != '!')) {
    Completion indent;
    if (std::all_of(before.begin(), before.end(), blank)) indent.insert = "    ";
    return indent;
  }
  auto last_blank = before.find_last_of(" \t");
  std::string word(last_blank == std::string_view::npos ? before : before.substr(last_blank + 1));
  if (before[0] == '!') {
    if (last_blank == std::string_view::npos) word.erase(0, 1);
    return finish(word, paths_starting_with(word));
  }
  if (last_blank == std::string_view::npos) {
    std::vector<std::string> dotted;
    for (const auto& name : table.commands) dotted.push_back("." + name);
    return finish(word, starting_with(dotted, word));
  }
  if (strings::starts_with(word, "-")) {
    auto command = std::string(before.substr(1, before.find_first_of(" \t") - 1));
    return finish(word, starting_with(table.options_of ? table.options_of(command) : std::vector<std::string>{}, word));
  }
  return finish(word, paths_starting_with(word));
}

} // namespace sandpit::repl
