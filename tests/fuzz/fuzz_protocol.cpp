// libFuzzer target: the session daemon's request decoder faces bytes from any local client.
// Invariants: never crashes, never throws; whatever decodes re-encodes to an equal request.
#include "sandpit/session/protocol.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sandpit::session::protocol;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto request = decode_request(line);
  if (!request) return 0;
  auto again = decode_request(encode(*request).dump());
  if (!again || again->type != request->type || again->protocol != request->protocol ||
      again->execute.code != request->execute.code || again->execute.language != request->execute.language ||
      again->execute.timeout_ms != request->execute.timeout_ms || again->execute.wait != request->execute.wait) {
    std::abort();
  }
  return 0;
}
