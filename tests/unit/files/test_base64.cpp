#include "sandpit/files/base64.hpp"

#include <doctest/doctest.h>

using sandpit::files::decode_base64;
using sandpit::files::encode_base64;

TEST_CASE("decode_base64, RFC 4648 with padding, line breaks ignored") {
  CHECK(decode_base64("") == std::string());
  CHECK(decode_base64("Zg==") == std::string("f"));
  CHECK(decode_base64("Zm8=") == std::string("fo"));
  CHECK(decode_base64("Zm9v") == std::string("foo"));
  CHECK(decode_base64("Zm9v\r\nYmFy") == std::string("foobar"));
  CHECK(decode_base64("AP8A") == std::string("\x00\xff\x00", 3));
  CHECK_FALSE(decode_base64("Zm9").has_value());   // not a multiple of 4
  CHECK_FALSE(decode_base64("Zm9*").has_value());  // not the alphabet
  CHECK_FALSE(decode_base64("Z=9v").has_value());  // padding inside
  CHECK_FALSE(decode_base64("Zg===").has_value());
}

TEST_CASE("encode_base64, round trip of every byte") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  CHECK(encode_base64("foob") == "Zm9vYg==");
  CHECK(decode_base64(encode_base64(all)) == all);
}
