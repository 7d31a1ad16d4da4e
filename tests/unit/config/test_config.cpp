#include "sandpit/config/config.hpp"
#include "sandpit/config/keys.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/sys/fd.hpp"

#include <doctest/doctest.h>
#include <fstream>
#include <toml++/toml.h>

using namespace sandpit;

namespace {

config::Config defaults() {
  config::Config c;
  std::string doc;
  for (const auto& key : config::key_table()) doc += std::string(key.name) + " = " + std::string(key.default_value) + "\n";
  config::apply_toml(c, doc, "(default)");
  return c;
}

std::string error_of(const std::string& text) {
  auto c = defaults();
  try {
    config::apply_toml(c, text, "test.toml");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    return e.subject() + ": " + e.reason();
  }
  return "";
}

} // namespace

TEST_CASE("Config::load, defaults match the documented ones") {
  auto c = defaults();
  CHECK(c.limits.timeout.count() == 30'000);
  CHECK(c.limits.memory == 512ULL << 20);
  CHECK(c.limits.pids == 256);
  CHECK(c.limits.output == 8ULL << 20);
  CHECK(c.limits.tmp == 256ULL << 20);
  CHECK(c.limits.file_size == 256ULL << 20);
  CHECK(c.limits.open_files == 256);
  CHECK_FALSE(c.network_enabled);
  CHECK(c.language_commands.at("python") == std::vector<std::string>{"/usr/bin/python3"});
  CHECK(c.origins.at("limits.timeout") == "(default)");
}

TEST_CASE("Config::load, a file overrides and records its origin") {
  auto c = defaults();
  config::apply_toml(c, "[limits]\ntimeout = \"2m\"\nmemory = 33554432\n[network]\nenabled = true\n", "mine.toml");
  CHECK(c.limits.timeout.count() == 120'000);
  CHECK(c.limits.memory == 33554432);
  CHECK(c.network_enabled);
  CHECK(c.origins.at("limits.timeout") == "mine.toml");
  CHECK(c.origins.at("limits.pids") == "(default)");
}

TEST_CASE("Config::load, bad value names file, line, column and what was expected") {
  CHECK(error_of("[limits]\nmemory = \"lots\"\n") == "test.toml:2:10: limits.memory: expected a size like \"512MiB\", got \"lots\"");
  CHECK(error_of("[limits]\ntimeout = \"soon\"\n") == "test.toml:2:11: limits.timeout: expected a duration like \"30s\", got \"soon\"");
  CHECK(error_of("[limits]\npids = -3\n") == "test.toml:2:8: limits.pids: expected a whole number, got -3");
  CHECK(error_of("[network]\nenabled = \"yes\"\n") == "test.toml:2:11: network.enabled: expected true or false, got \"yes\"");
  CHECK(error_of("[languages.python]\ncommand = [\"python3\"]\n") ==
        "test.toml:2:11: languages.python.command: expected a list starting with an absolute path");
}

TEST_CASE("Config::load, limits too low to start an interpreter are refused") {
  CHECK(error_of("[limits]\nopen_files = 4\n") == "test.toml:2:14: limits.open_files: expected at least 16, got 4");
  CHECK(error_of("[limits]\nmemory = \"1MiB\"\n") == "test.toml:2:10: limits.memory: expected at least 16MiB, got \"1MiB\"");
}

TEST_CASE("Config::load, unknown key gets a did-you-mean") {
  CHECK(error_of("[limits]\ntimout = \"5s\"\n") ==
        "test.toml:2:1: unknown key 'limits.timout' (did you mean 'limits.timeout'?)");
  CHECK(error_of("colour = true\n") == "test.toml:1:1: unknown key 'colour'");
}

TEST_CASE("Config::load, TOML syntax errors carry the position") {
  auto message = error_of("[limits\n");
  CHECK(message.rfind("test.toml:1:", 0) == 0);
}

TEST_CASE("config.example.toml holds every key with its default") {
  auto text = sys::read_file(SANDPIT_SOURCE_DIR "/config.example.toml");
  REQUIRE(text.ok());
  auto example = toml::parse(*text);
  for (const auto& key : config::key_table()) {
    CAPTURE(key.name);
    auto node = example.at_path(key.name);
    REQUIRE(node);
    auto expected = toml::parse("v = " + std::string(key.default_value));
    std::ostringstream a, b;
    a << node;
    b << expected["v"];
    CHECK(a.str() == b.str());
  }
  // ...and nothing else: parsing it as a config must succeed.
  auto c = defaults();
  config::apply_toml(c, *text, "config.example.toml");
}

TEST_CASE("Config::load, bytes toml++ 3.3.0 mishandles are refused before parsing") {
  CHECK(error_of("[l\xc5\x98m\n") == "test.toml:1:3: a non-ASCII character outside a string or comment");
  CHECK(error_of("a\xc5\x98 = 1\n") == "test.toml:1:2: a non-ASCII character outside a string or comment");
  CHECK(error_of("x = \"\xcc\"\n") == "test.toml:1:6: invalid UTF-8");
  CHECK(error_of("x = 1\n\x01") == "test.toml:2:1: a control character (0x01)");
  CHECK(error_of("s = \"\"\"\\\n\xc2\xa7\"\"\"\n") == "test.toml:2:1: a non-ASCII character after a backslash and whitespace");
  CHECK(error_of("s = \"\"\"x\\\t\t\xef\xbb\xb7\"\"\"\n") == "test.toml:1:12: a non-ASCII character after a backslash and whitespace");
  // Non-ASCII text in strings and comments is fine (paths may need it).
  auto c = defaults();
  config::apply_toml(c, "# caf\xc3\xa9\n[jail]\nro_binds = [\"/usr/share/caf\xc3\xa9\"]\n", "ok.toml");
  CHECK(c.ro_binds == std::vector<std::string>{"/usr/share/caf\xc3\xa9"});
}
