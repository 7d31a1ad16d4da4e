#include "sandpit/jail/jail.hpp"
#include "sandpit/kernels/drivers.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace sandpit;

TEST_CASE("template_environment_frame: the kernel's environment as execve would have given it, length first") {
  const auto frame = jail::template_environment_frame({"PATH=/usr/bin:/bin", "EMPTY=", "EQ=a=b", "NOEQUALS"});
  const auto newline = frame.find('\n');
  REQUIRE(newline != std::string::npos);
  const auto body = frame.substr(newline + 1);
  CHECK(std::stoul(frame.substr(0, newline)) == body.size());
  const auto env = nlohmann::json::parse(body);
  CHECK(env.size() == 3); // an entry without '=' is no variable
  CHECK(env["PATH"] == "/usr/bin:/bin");
  CHECK(env["EMPTY"] == "");
  CHECK(env["EQ"] == "a=b"); // split at the first '='
}

TEST_CASE("template_environment_frame: non-ASCII values are counted in bytes") {
  const auto frame = jail::template_environment_frame({"NAME=J\xc3\xa9r\xc3\xb4me"});
  const auto newline = frame.find('\n');
  CHECK(std::stoul(frame.substr(0, newline)) == frame.size() - newline - 1);
}

TEST_CASE("the template's loader reads exactly the embedded source, kernel entry first") {
  const auto source = std::string(kernels::python_template());
  const auto loader = kernels::python_template_loader();
  CHECK(loader.find(std::to_string(source.size())) != std::string::npos);
  CHECK(loader.find("os.read(4,") != std::string::npos);
  // The kernel entry (joining a jail) is defined before the server that uses it, and the program ends
  // by running the server.
  CHECK(source.find("def _kernel(") < source.find("def _serve("));
  CHECK(source.rfind("_main()") > source.find("def _main("));
  CHECK(source.find(")sandpit_driver") == std::string::npos);
}
