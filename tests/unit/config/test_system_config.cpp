// The system config's authority: keys only it may set, and limits others may only tighten.
#include "sandpit/config/config.hpp"
#include "sandpit/config/keys.hpp"
#include "sandpit/core/error.hpp"

#include <doctest/doctest.h>

using namespace sandpit;

namespace {

config::Config with_system(const std::string& system_text) {
  config::Config c;
  std::string doc;
  for (const auto& key : config::key_table()) doc += std::string(key.name) + " = " + std::string(key.default_value) + "\n";
  config::apply_toml(c, doc, "(default)", config::Source::Kind::system);
  config::apply_toml(c, system_text, "/etc/sandpit/config.toml", config::Source::Kind::system);
  config::seal_system(c);
  return c;
}

std::string user_error(config::Config c, const std::string& text) {
  try {
    config::apply_toml(c, text, "user.toml", config::Source::Kind::user);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::usage);
    return e.subject() + ": " + e.reason();
  }
  return "";
}

} // namespace

TEST_CASE("Config::load, identity and access keys come only from the system config") {
  auto c = with_system("[identity]\nadmins = [\"root\"]\n");
  CHECK(c.admins == std::vector<std::string>{"root"});
  auto message = user_error(c, "[identity]\nadmins = [\"mallory\"]\n");
  CHECK(message.rfind("user.toml:2:10: identity.admins: only the system config (", 0) == 0);
  CHECK(user_error(c, "[access]\nexec = \"everyone\"\n").find("access.exec: only the system config") != std::string::npos);
  CHECK(user_error(c, "[network]\nenabled = true\n").find("network.enabled: only the system config") != std::string::npos);
  CHECK(user_error(c, "[audit]\npath = \"/dev/null\"\n").find("audit.path: only the system config") != std::string::npos);
  // The interpreter's arguments are never screened by the pattern list: a user must not add any.
  CHECK(user_error(c, "[languages.bash]\ncommand = [\"/bin/bash\", \"-c\", \"rm -rf /workspace\"]\n").find("languages.bash.command: only the system config") != std::string::npos);
}

TEST_CASE("Config::load, without a system config the user sets everything") {
  config::Config c;
  config::apply_toml(c, "[identity]\nuser = \"ada@example.com\"\nadmins = [\"ada@example.com\"]\n[limits]\nmemory = \"4GiB\"\n",
                     "user.toml", config::Source::Kind::user);
  CHECK(c.identity_user == "ada@example.com");
  CHECK(c.limits.memory == 4ULL << 30);
}

TEST_CASE("Config::load, limits may be tightened below the system's, never loosened") {
  auto c = with_system("[limits]\nmemory = \"256MiB\"\ntimeout = \"10s\"\ncpu = 0.5\n");
  CHECK(user_error(c, "[limits]\nmemory = \"1GiB\"\n") ==
        "user.toml:2:10: limits.memory: the system config allows at most 256MiB, got \"1GiB\"");
  CHECK(user_error(c, "[limits]\ntimeout = \"1m\"\n") == "user.toml:2:11: limits.timeout: the system config allows at most 10s, got \"1m\"");
  CHECK(user_error(c, "[limits]\ncpu = 0\n") == "user.toml:2:7: limits.cpu: the system config allows at most 0.5, got 0");
  config::apply_toml(c, "[limits]\nmemory = \"128MiB\"\ntimeout = \"5s\"\n", "user.toml", config::Source::Kind::user);
  CHECK(c.limits.memory == 128ULL << 20);
  CHECK(c.origins.at("limits.memory") == "user.toml");
  CHECK_THROWS_AS(config::bounded_timeout(c, units::Millis(11'000), "--timeout 11s"), Error);
  CHECK(config::bounded_timeout(c, units::Millis(9'000), "--timeout 9s").count() == 9'000);
}

TEST_CASE("Config::load, policy mode may only get stricter under a system config") {
  auto c = with_system("[policy]\nmode = \"block\"\n");
  CHECK(user_error(c, "[policy]\nmode = \"warn\"\n") ==
        "user.toml:2:8: policy.mode: the system config requires at least \"block\", got \"warn\"");
  auto lax = with_system("[policy]\nmode = \"off\"\n");
  config::apply_toml(lax, "[policy]\nmode = \"block\"\n", "user.toml", config::Source::Kind::user);
  CHECK(lax.policy_mode == config::PolicyMode::block);
}

TEST_CASE("Config::load, a user's patterns add to the system's list") {
  auto c = with_system("[[policy.patterns]]\nregex = 'forbidden'\nreason = \"site rule\"\n");
  REQUIRE(c.patterns.size() == 1);
  config::apply_toml(c, "[[policy.patterns]]\nregex = 'mine'\nreason = \"my rule\"\n", "user.toml", config::Source::Kind::user);
  REQUIRE(c.patterns.size() == 2);
  CHECK(c.patterns[0].reason == "site rule");
  CHECK(c.patterns[1].reason == "my rule");
  CHECK(c.patterns[1].origin == "user.toml:1:1");
}

TEST_CASE("Config::load, pattern list errors carry their position") {
  config::Config c;
  auto error = [&](const std::string& text) {
    try {
      config::apply_toml(c, text, "p.toml");
    } catch (const Error& e) {
      return e.subject() + ": " + e.reason();
    }
    return std::string();
  };
  CHECK(error("[[policy.patterns]]\nregex = 'os\\.(remove'\nreason = \"x\"\n") ==
        "p.toml:2:9: policy.patterns[0].regex: missing closing parenthesis at character 11");
  CHECK(error("[[policy.patterns]]\nregex = 'x'\n") == "p.toml:1:1: policy.patterns[0]: needs both regex and reason");
  CHECK(error("[[policy.patterns]]\nregex = 'x'\nreason = 'y'\nlanguages = [\"cobol\"]\n") ==
        "p.toml:4:14: policy.patterns[0].languages: expected \"python\", \"javascript\", \"typescript\" or \"bash\", got \"cobol\"");
  CHECK(error("[[policy.patterns]]\nregexp = 'x'\n") == "p.toml:2:1: policy.patterns[0]: unknown field 'regexp' (expected languages, regex, reason)");
  CHECK(error("[policy]\nmode = \"strict\"\n") == "p.toml:2:8: policy.mode: expected \"off\", \"warn\" or \"block\", got \"strict\"");
}

TEST_CASE("Config::load, the shipped patterns all compile") {
  config::Config c;
  std::string doc;
  for (const auto& key : config::key_table()) doc += std::string(key.name) + " = " + std::string(key.default_value) + "\n";
  config::apply_toml(c, doc, "(default)");
  CHECK(c.patterns.size() >= 18);
  CHECK(c.policy_mode == config::PolicyMode::warn);
}
