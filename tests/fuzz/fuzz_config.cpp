// libFuzzer target: config files are user input; the loader must answer with Error, never crash.
#include "sandpit/config/config.hpp"
#include "sandpit/core/error.hpp"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sandpit::config::Config config;
  try {
    sandpit::config::apply_toml(config, std::string(reinterpret_cast<const char*>(data), size), "fuzz.toml");
  } catch (const sandpit::Error&) {
    // the one acceptable way to refuse
  }
  return 0;
}
