#include "sandpit/session/packages.hpp"

#include "sandpit/core/error.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fnmatch.h>

namespace sandpit::session {
namespace {

bool name_char(char c, bool node) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || (node && c == '~');
}

// PEP 503: lowercase, runs of "-_." become "-".
std::string pep503(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (out.empty() || out.back() != '-') out.push_back('-');
    } else {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

[[noreturn]] void bad(const std::string& text, const std::string& why) { throw Error(ExitCode::usage, "package " + text, why); }

PackageSpec parse_python(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && name_char(text[i], false)) ++i;
  if (i == 0 || !std::isalnum(static_cast<unsigned char>(text[0]))) bad(text, "not a package name (a name, then an optional version like ==2.1 or >=1,<2)");
  PackageSpec spec{text, pep503(text.substr(0, i)), ""};
  std::string rest = text.substr(i);
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos || rest.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,", 1) != close) {
      bad(text, "extras must be names in [...]");
    }
    rest = rest.substr(close + 1);
  }
  if (rest.empty()) return spec;
  // Version specifiers only: comparison operators, versions, commas.
  if (rest.find_first_not_of("=<>!~0123456789.*,abcdefghijklmnopqrstuvwxyz+ ") != std::string::npos || rest.find_first_of("=<>!~") != 0) {
    bad(text, "the version must be a specifier like ==2.1, >=1.2 or >=1,<2");
  }
  if (rest.rfind("==", 0) == 0 && rest.find_first_of(",<>!~*", 2) == std::string::npos) spec.version = rest.substr(2);
  return spec;
}

PackageSpec parse_npm(const std::string& text) {
  std::string name = text, version;
  const auto at = text.find('@', text.front() == '@' ? 1 : 0);
  if (at != std::string::npos) {
    name = text.substr(0, at);
    version = text.substr(at + 1);
    if (version.empty() || version.find_first_not_of("0123456789.xX*^~<>=| -abcdefghijklmnopqrstuvwxyz+") != std::string::npos) {
      bad(text, "the version must be a semver version or range (lodash@4, lodash@^4.17.0)");
    }
  }
  std::string_view bare = name;
  if (!bare.empty() && bare.front() == '@') {
    const auto slash = bare.find('/');
    if (slash == std::string_view::npos || slash == 1) bad(text, "a scoped name is @scope/name");
    bare = bare.substr(slash + 1);
    if (!std::all_of(name.begin() + 1, name.begin() + static_cast<long>(slash), [](char c) { return name_char(c, true); })) bad(text, "not a package name");
  }
  if (bare.empty() || bare.front() == '.' || bare.front() == '_' || !std::all_of(bare.begin(), bare.end(), [](char c) { return name_char(c, true); })) {
    bad(text, "not a package name (a name, then an optional @version)");
  }
  std::string lowered = name;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  PackageSpec spec{text, lowered, ""};
  if (!version.empty() && version.find_first_not_of("0123456789.") == std::string::npos && std::count(version.begin(), version.end(), '.') == 2) {
    spec.version = version;
  }
  return spec;
}

bool glob_match(const std::string& pattern, const std::string& name) { return ::fnmatch(pattern.c_str(), name.c_str(), FNM_CASEFOLD) == 0; }

// The host:port of a URL's authority ("https://pypi.org/simple" -> "pypi.org:443").
std::string host_of(const std::string& url) {
  const bool tls = url.rfind("https://", 0) == 0;
  if (!tls && url.rfind("http://", 0) != 0) return {};
  auto rest = url.substr(tls ? 8 : 7);
  rest = rest.substr(0, rest.find('/'));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1); // user:password@
  const auto close = rest.find(']');
  const auto colon = rest.rfind(':');
  const bool has_port = colon != std::string::npos && (close == std::string::npos ? rest.find(':') == colon : colon > close);
  return has_port ? rest : rest + (tls ? ":443" : ":80");
}

} // namespace

std::optional<Installer> installer_for(kernels::Language language) {
  switch (kernels::kernel_of(language)) {
  case kernels::Language::python: return Installer::pip;
  case kernels::Language::javascript: return Installer::npm;
  default: return std::nullopt;
  }
}

std::vector<PackageSpec> parse_packages(Installer installer, const std::vector<std::string>& asked) {
  std::vector<PackageSpec> out;
  for (const auto& raw : asked) {
    std::string text(raw);
    text.erase(std::remove_if(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); }), text.end());
    if (text.empty()) continue;
    if (text.size() > 200) bad(text.substr(0, 40) + "...", "longer than 200 characters");
    if (text.front() == '-') bad(text, "options are not packages");
    out.push_back(installer == Installer::pip ? parse_python(text) : parse_npm(text));
  }
  if (out.size() > 64) throw Error(ExitCode::usage, "packages", "at most 64 in one install");
  return out;
}

std::optional<std::string> package_refusal(const config::Config& config, const PackageSpec& spec) {
  for (const auto& pattern : config.packages.deny) {
    if (glob_match(pattern, spec.name)) return fmt::format("package '{}' matches packages.deny \"{}\"", spec.name, pattern);
  }
  for (const auto& pattern : config.packages.allow) {
    if (glob_match(pattern, spec.name)) return std::nullopt;
  }
  return config.packages.allow.empty() ? fmt::format("package '{}': packages.allow is empty, so no package may be installed", spec.name)
                                       : fmt::format("package '{}' is not in packages.allow ({})", spec.name, fmt::join(config.packages.allow, ", "));
}

std::vector<std::string> index_hosts(const config::Config& config, Installer installer) {
  if (installer == Installer::npm) {
    return {host_of(config.packages.npm_registry.empty() ? "https://registry.npmjs.org/" : config.packages.npm_registry)};
  }
  if (!config.packages.python_index.empty()) return {host_of(config.packages.python_index)};
  if (!config.packages.python_find_links.empty()) return {}; // offline: the wheels are bound into the sandbox
  return {"pypi.org:443", "files.pythonhosted.org:443"};
}

} // namespace sandpit::session
