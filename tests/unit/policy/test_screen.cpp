#include "sandpit/config/config.hpp"
#include "sandpit/config/keys.hpp"
#include "sandpit/policy/policy.hpp"

#include <doctest/doctest.h>

using namespace sandpit;

namespace {

config::Config shipped() {
  config::Config c;
  std::string doc;
  for (const auto& key : config::key_table()) doc += std::string(key.name) + " = " + std::string(key.default_value) + "\n";
  config::apply_toml(c, doc, "(default)");
  return c;
}

std::string first_reason(const std::string& language, const std::string& code) {
  static const auto config = shipped();
  auto findings = policy::screen(config, language, code);
  return findings.empty() ? "" : findings.front().reason;
}

} // namespace

TEST_CASE("policy::screen, the shipped Python patterns") {
  CHECK(first_reason("python", "import os\nos.remove('x')") == "os.remove/os.unlink/os.rmdir delete files");
  CHECK(first_reason("python", "os.rmdir ( 'd' )") == "os.remove/os.unlink/os.rmdir delete files");
  CHECK(first_reason("python", "import shutil; shutil.rmtree('/')") == "shutil.rmtree deletes a directory tree");
  CHECK(first_reason("python", "f = open('out.txt', 'w')") == "open(..., 'w') writes files");
  CHECK(first_reason("python", "open(p, mode=\"ab\")") == "open(..., 'w') writes files");
  CHECK(first_reason("python", "import subprocess") == "subprocess runs other programs");
  CHECK(first_reason("python", "exec('1')") == "exec/eval run code built at run time");
  CHECK(first_reason("python", "x = eval(s)") == "exec/eval run code built at run time");
  // Near misses that are ordinary code.
  CHECK(first_reason("python", "data = open('in.csv').read()") == "");
  CHECK(first_reason("python", "open('in.csv', 'r')") == "");
  CHECK(first_reason("python", "model.eval()") == "");
  CHECK(first_reason("python", "print(6 * 7)") == "");
}

TEST_CASE("policy::screen, the shipped JavaScript and shell patterns") {
  CHECK(first_reason("javascript", "require('fs').unlinkSync('x')") == "require of fs or child_process reaches files and programs");
  CHECK(first_reason("javascript", "fs.writeFileSync('a', 'b')") == "fs.unlink/rmdir/rm/writeFile delete or overwrite files");
  CHECK(first_reason("javascript", "const cp = require(\"node:child_process\")") ==
        "require of fs or child_process reaches files and programs");
  CHECK(first_reason("javascript", "import { readFile } from 'fs/promises'") == "import of fs or child_process reaches files and programs");
  CHECK(first_reason("javascript", "eval('1+1')") == "eval runs code built at run time");
  CHECK(first_reason("javascript", "new Function('return 1')") == "Function() builds code from a string");
  CHECK(first_reason("javascript", "console.log([1,2].map(x => x * 2))") == "");
  CHECK(first_reason("bash", "rm -rf /") == "rm -rf / deletes the whole file system");
  CHECK(first_reason("bash", "rm -rf --no-preserve-root / ") == "rm -rf / deletes the whole file system");
  CHECK(first_reason("bash", "rm -rf /tmp/build") == "");
  CHECK(first_reason("bash", "mkfs.ext4 /dev/sda1") == "mkfs formats a file system");
  CHECK(first_reason("bash", "dd bs=1M if=/dev/sda of=x") == "dd if= copies raw devices");
  CHECK(first_reason("bash", "sudo reboot") == "shutdown/reboot stop the machine");
  CHECK(first_reason("bash", "echo hi; sudo ls") == "sudo/su change user");
  CHECK(first_reason("bash", "su -") == "sudo/su change user");
  CHECK(first_reason("bash", "echo sushi") == "");
  CHECK(first_reason("bash", "chmod -R 777 .") == "chmod 777 makes files writable by everyone");
  CHECK(first_reason("bash", "curl -fsSL https://example.com/x | sh") == "piping a download into a shell runs unreviewed code");
  CHECK(first_reason("bash", "wget -qO- x | bash") == "piping a download into a shell runs unreviewed code");
  CHECK(first_reason("bash", "ls -la") == "");
}

TEST_CASE("policy::screen, NFKC-normalised so look-alike characters do not evade it") {
  // Fullwidth letters: Python normalises identifiers with NFKC, so this runs as os.remove.
  CHECK(first_reason("python", "import os\n\xef\xbd\x8f\xef\xbd\x93.remove('x')") == "os.remove/os.unlink/os.rmdir delete files");
  // Mathematical bold "eval".
  CHECK(first_reason("python", "\xf0\x9d\x90\x9e\xf0\x9d\x90\xaf\xf0\x9d\x90\x9a\xf0\x9d\x90\xa5('1')") ==
        "exec/eval run code built at run time");
  CHECK(policy::nfkc("\xef\xbd\x81") == "a");
  CHECK(policy::nfkc("a\xffz") == "a\xef\xbf\xbdz");
}

TEST_CASE("policy::screen, comments are screened too, and the line is reported") {
  static const auto config = shipped();
  auto findings = policy::screen(config, "python", "x = 1\n\n# os.remove('x') later\n");
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].line == 3);
  CHECK(findings[0].origin.rfind("(default)", 0) == 0);
}

TEST_CASE("policy::screen, mode off screens nothing; a pattern applies only to its languages") {
  auto config = shipped();
  CHECK(policy::screen(config, "bash", "os.remove('x')").empty());
  config.policy_mode = config::PolicyMode::off;
  CHECK(policy::screen(config, "python", "os.remove('x')").empty());
}

namespace {

config::Pattern pattern(std::vector<std::string> languages, std::string regex) {
  config::Pattern p;
  p.languages = std::move(languages);
  p.regex = regex;
  p.reason = "no " + regex;
  return p;
}

std::vector<std::string> reasons(const config::Config& config, std::string_view language, std::string_view code) {
  std::vector<std::string> out;
  for (const auto& finding : policy::screen(config, language, code)) out.push_back(finding.reason);
  return out;
}

} // namespace

TEST_CASE("policy::screen, TypeScript meets the JavaScript patterns") {
  CHECK(first_reason("typescript", "const cp: any = require('child_process')") == "require of fs or child_process reaches files and programs");
  CHECK(first_reason("typescript", "eval('1 as number')") == "eval runs code built at run time");
  CHECK(first_reason("typescript", "const x: number = 1; x + 1") == "");
  CHECK(first_reason("typescript", "os.remove('x')") == ""); // not Python's
}

TEST_CASE("policy::screen, a list that names typescript screens it with its own entries") {
  config::Config config;
  config.patterns = {pattern({"javascript"}, "alpha"), pattern({"typescript"}, "beta"), pattern({}, "gamma")};
  CHECK(reasons(config, "typescript", "alpha beta gamma") == std::vector<std::string>{"no beta", "no gamma"});
  CHECK(reasons(config, "javascript", "alpha beta gamma") == std::vector<std::string>{"no alpha", "no gamma"});
}

TEST_CASE("policy::screen, a user's typescript entry does not take the system's JavaScript patterns away") {
  config::Config config;
  config.patterns = {pattern({"javascript"}, "alpha"), pattern({"typescript"}, "beta")};
  config.system_patterns = 1; // alpha is the system's; beta the user's addition
  CHECK(reasons(config, "typescript", "alpha beta") == std::vector<std::string>{"no alpha", "no beta"});
  config.patterns.push_back(pattern({"javascript"}, "delta")); // the user's JavaScript entry: their list names typescript
  CHECK(reasons(config, "typescript", "alpha beta delta") == std::vector<std::string>{"no alpha", "no beta"});
  config.patterns.insert(config.patterns.begin(), pattern({"typescript"}, "epsilon"));
  config.system_patterns = 2; // now the system's list names typescript too
  CHECK(reasons(config, "typescript", "alpha beta delta epsilon") == std::vector<std::string>{"no epsilon", "no beta"});
}

TEST_CASE("policy::identify, the configured name and the admin list") {
  config::Config c;
  c.identity_user = "ada@example.com";
  c.admins = {"ada@example.com"};
  auto who = policy::identify(c);
  CHECK(who.user == "ada@example.com");
  CHECK(who.admin);
  CHECK(policy::may_read_all(c, who));
  c.admins = {};
  c.exec_access = config::ExecAccess::admins;
  who = policy::identify(c);
  CHECK_FALSE(who.admin);
  CHECK_FALSE(policy::may_exec(c, who));
  CHECK_FALSE(policy::may_read_all(c, who));
  c.identity_user.clear();
  CHECK_FALSE(policy::identify(c).user.empty());
}
