// Runs a fuzz target over corpus files, so every build (not only clang's) exercises the
// harness and the seeds: `fuzz_x_replay FILE|DIR...`.
#include "sandpit/sys/fd.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  int inputs = 0;
  for (int i = 1; i < argc; ++i) {
    fs::path root(argv[i]);
    auto run = [&](const fs::path& file) {
      auto read = sandpit::sys::read_file(file.string());
      std::string bytes = read ? *read : std::string();
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    };
    if (fs::is_directory(root)) {
      for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (entry.is_regular_file()) run(entry.path());
      }
    } else {
      run(root);
    }
  }
  std::printf("replayed %d inputs\n", inputs);
  return inputs > 0 ? 0 : 1;
}
