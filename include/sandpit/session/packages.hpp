// Packages: what an execution asks to install (pip for Python, npm for JavaScript/TypeScript), checked against
// packages.allow and packages.deny, and where installs go inside the sandbox.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/kernels/language.hpp"

#include <optional>
#include <string>
#include <vector>

namespace sandpit::session {

// Where pip installs (on every Python's sys.path through PYTHONPATH) and npm's prefix.
inline constexpr const char* k_python_packages = "/workspace/.sandpit/python";
inline constexpr const char* k_python_packages_relative = ".sandpit/python"; // the same, in the workspace
inline constexpr const char* k_npm_prefix = "/workspace";

struct PackageSpec {
  std::string text;    // as asked: "pandas==2.1", "lodash@4", "@types/node"
  std::string name;    // normalised: "pandas" (PEP 503), "lodash", "@types/node"
  std::string version; // an exact pin ("2.1", "4.17.21"), else ""
};

// The installer that serves a language: pip for Python, npm for JavaScript and TypeScript; nullopt for bash.
enum class Installer { pip, npm };
std::optional<Installer> installer_for(kernels::Language language);

// Parses what was asked. Throws Error(usage) for anything that is not a package
// name with an optional version (no URLs, paths or options: nothing pip or npm
// would read as anything else).
std::vector<PackageSpec> parse_packages(Installer installer, const std::vector<std::string>& asked);

// Why the config refuses `spec` ("'x' is not in packages.allow (...)", "'x' matches packages.deny 'x*'"), or nullopt.
std::optional<std::string> package_refusal(const config::Config& config, const PackageSpec& spec);

// The hosts an install may reach: the configured (or default) index or registry.
std::vector<std::string> index_hosts(const config::Config& config, Installer installer);

} // namespace sandpit::session
