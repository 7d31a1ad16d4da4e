#include "../../../src/serve/multipart.hpp"

#include <doctest/doctest.h>

using namespace sandpit::serve;

TEST_CASE("multipart_boundary") {
  CHECK(multipart_boundary("multipart/form-data; boundary=abc") == "abc");
  CHECK(multipart_boundary("Multipart/Form-Data; charset=x; boundary=\"q b\"") == "q b");
  CHECK_FALSE(multipart_boundary("application/json; boundary=abc"));
  CHECK_FALSE(multipart_boundary("multipart/form-data"));
}

TEST_CASE("parse_multipart, E2B's uploads: the filename is the whole path; other fields are kept apart") {
  const std::string body =
      "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/home/user/a b.txt\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\nfirst\r\ncontent\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--XyZ\r\n"
      "content-disposition: form-data; name=file; filename*=utf-8''%2Ftmp%2F%C3%A9.txt\r\n\r\n\r\n--XyZ--\r\n";
  auto parts = parse_multipart(body, "XyZ");
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].name == "file");
  CHECK(parts[0].filename == "/home/user/a b.txt");
  CHECK(body.substr(parts[0].offset, parts[0].size) == "first\r\ncontent");
  CHECK(parts[1].name == "other");
  CHECK(parts[2].filename == "/tmp/\xc3\xa9.txt");
  CHECK(parts[2].size == 0);
}

TEST_CASE("parse_multipart, malformed bodies are refused") {
  CHECK_THROWS_AS(parse_multipart("no boundary here", "b"), MultipartError);
  CHECK_THROWS_AS(parse_multipart("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated", "b"), MultipartError);
  CHECK_THROWS_AS(parse_multipart("--b\r\nno end of headers", "b"), MultipartError);
  std::string many;
  for (int i = 0; i < 5; ++i) many += "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n";
  many += "--b--";
  CHECK_THROWS_AS(parse_multipart(many, "b", 3), MultipartError);
  CHECK(parse_multipart(many, "b").size() == 5);
}
