#include "sandpit/repl/completion.hpp"

#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace sandpit::repl;
namespace fs = std::filesystem;

namespace {
CompletionTable table() {
  CompletionTable t;
  t.commands = {"exec", "exit", "shell", "session", "help"};
  t.options_of = [](const std::string& command) {
    return command == "exec" ? std::vector<std::string>{"--json", "--events", "--timeout", "-c"} : std::vector<std::string>{};
  };
  return t;
}

// Runs `body` with the current directory set to a fresh temporary one holding a few files.
template <typename Body> void in_scratch_dir(Body&& body) {
  auto dir = fs::temp_directory_path() / ("sandpit-completion-" + std::to_string(::getpid()));
  fs::create_directories(dir / "data");
  std::ofstream(dir / "data" / "cells.txt") << "1\n";
  std::ofstream(dir / "data" / "cells.py") << "1\n";
  std::ofstream(dir / "notes.md") << "x\n";
  auto old = fs::current_path();
  fs::current_path(dir);
  body();
  fs::current_path(old);
  fs::remove_all(dir);
}
} // namespace

TEST_CASE("split_words, quotes and backslashes as a shell reads them") {
  CHECK(*split_words("exec -c 'print(1 + 1)'") == std::vector<std::string>{"exec", "-c", "print(1 + 1)"});
  CHECK(*split_words(R"(exec -c "say \"hi\"" x\ y)") == std::vector<std::string>{"exec", "-c", "say \"hi\"", "x y"});
  CHECK(*split_words("  audit   --limit 3 ") == std::vector<std::string>{"audit", "--limit", "3"});
  CHECK(*split_words("a''b") == std::vector<std::string>{"ab"});
  CHECK(split_words("exec -c 'open").failure().detail == "unclosed '");
}

TEST_CASE("complete, dot-command names") {
  auto t = table();
  CHECK(complete(".ex", t).insert.empty());
  CHECK(complete(".ex", t).choices == std::vector<std::string>{".exec", ".exit"});
  CHECK(complete(".exe", t).insert == "c ");
  CHECK(complete(".se", t).insert == "ssion ");
  CHECK(complete(".s", t).choices == std::vector<std::string>{".session", ".shell"});
  CHECK(complete(".zz", t).choices.empty());
}

TEST_CASE("complete, a command's options") {
  auto t = table();
  CHECK(complete(".exec --j", t).insert == "son ");
  CHECK(complete(".exec --", t).choices == std::vector<std::string>{"--events", "--json", "--timeout"});
  CHECK(complete(".shell --", t).choices.empty());
}

TEST_CASE("complete, file paths after a dot-command and after !") {
  in_scratch_dir([] {
    auto t = table();
    CHECK(complete(".exec no", t).insert == "tes.md ");
    CHECK(complete(".exec da", t).insert == "ta/");
    CHECK(complete(".exec data/cells.", t).choices == std::vector<std::string>{"data/cells.py", "data/cells.txt"});
    CHECK(complete("!cat data/cells.p", t).insert == "y ");
    CHECK(complete("!no", t).insert == "tes.md ");
  });
}

TEST_CASE("complete, code: indentation at the start of a line, nothing elsewhere") {
  auto t = table();
  CHECK(complete("", t).insert == "    ");
  CHECK(complete("    ", t).insert == "    ");
  CHECK(complete("x = pri", t).insert.empty());
  CHECK(complete("x = pri", t).choices.empty());
}
