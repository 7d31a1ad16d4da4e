#include "../../../src/files/image.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace sandpit::files;

namespace {

// A file whose bytes 1024.. hold an ext4 superblock with the given state and incompat features.
std::filesystem::path superblock(std::uint16_t state, std::uint32_t incompat, std::uint16_t magic = 0xEF53) {
  std::string bytes(2048, '\0');
  auto put16 = [&](std::size_t at, std::uint16_t v) {
    bytes[1024 + at] = static_cast<char>(v & 0xff);
    bytes[1024 + at + 1] = static_cast<char>(v >> 8);
  };
  put16(56, magic);
  put16(58, state);
  put16(96, static_cast<std::uint16_t>(incompat & 0xffff));
  put16(98, static_cast<std::uint16_t>(incompat >> 16));
  auto path = std::filesystem::temp_directory_path() / ("sandpit-sb-" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

} // namespace

TEST_CASE("image::needs_check, from the superblock alone") {
  struct Case {
    std::uint16_t state;
    std::uint32_t incompat;
    std::uint16_t magic;
    bool check;
  };
  for (auto c : {Case{0x1, 0x2c2, 0xEF53, false},   // clean (filetype, extents, flex_bg, 64bit)
                 Case{0x0, 0x2c2, 0xEF53, true},    // not cleanly unmounted (fuse2fs was killed)
                 Case{0x3, 0x2c2, 0xEF53, true},    // errors recorded
                 Case{0x1, 0x2c6, 0xEF53, true},    // a journal to replay
                 Case{0x1, 0x2c2, 0x1234, true}}) { // not ext4 at all
    auto path = superblock(c.state, c.incompat, c.magic);
    CHECK(image::needs_check(path) == c.check);
    std::filesystem::remove(path);
  }
  CHECK(image::needs_check("/nonexistent/sandpit.img"));
}
