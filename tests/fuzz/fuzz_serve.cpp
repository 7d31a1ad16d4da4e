// libFuzzer target: what `sandpit serve` decodes from any HTTP client. The first byte picks the decoder:
// 0 multipart bodies, 1 query strings, 2 Connect request messages (unary), 3 Connect envelopes (streams), 4 sandbox paths.
// Invariants: never crashes; parts lie within the body; a resolved path never climbs out of its area.
#include "../../src/serve/connect.hpp"
#include "../../src/serve/multipart.hpp"

#include "sandpit/files/files.hpp"
#include "sandpit/util/strings.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sandpit;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
  case 0:
    try {
      for (const auto& part : serve::parse_multipart(input, "b0undary")) {
        if (part.offset > input.size() || part.size > input.size() - part.offset) std::abort();
      }
    } catch (const serve::MultipartError&) {
    }
    break;
  case 1: (void)serve::http::parse_query(input); break;
  case 2:
  case 3: {
    serve::http::Request req;
    req.body = std::string(input);
    if (data[0] % 5 == 3) req.headers["content-type"] = "application/connect+json";
    try {
      (void)serve::connect::request_message(req);
    } catch (const serve::connect::RpcError&) {
    }
    break;
  }
  case 4:
    try {
      auto resolved = files::resolve_home_path(input, "/home/user");
      for (const auto& part : strings::split(resolved.path.relative, '/')) {
        if (part == ".." || part == ".") std::abort();
      }
    } catch (const Error&) {
    }
    break;
  }
  return 0;
}
