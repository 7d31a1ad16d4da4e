// libFuzzer target: TerminalEscaper faces every byte sandboxed code writes to the user's terminal.
// Invariants, however the bytes are split into chunks: without SGR, no control
// character but \n, \r and \t comes out; with SGR, every ESC starts "ESC [ <digits ; :> m".
#include "sandpit/util/terminal.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check_safe(const std::string& out, sandpit::Sgr sgr) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto c = static_cast<unsigned char>(out[i]);
    if (c == 0x1b && sgr == sandpit::Sgr::pass && i + 1 < out.size() && out[i + 1] == '[') {
      auto j = out.find_first_not_of("0123456789;:", i + 2);
      if (j == std::string::npos || out[j] != 'm') std::abort();
      i = j;
      continue;
    }
    if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f) std::abort();
    if (c == 0xc2 && i + 1 < out.size() && static_cast<unsigned char>(out[i + 1]) < 0xa0) std::abort(); // a C1 control
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t split = size > 1 ? data[0] % size : 0; // where the stream is cut into two chunks
  for (auto sgr : {sandpit::Sgr::escape, sandpit::Sgr::pass}) {
    sandpit::TerminalEscaper escaper(sgr);
    std::string out = escaper.feed(bytes.substr(0, split));
    out += escaper.feed(bytes.substr(split));
    out += escaper.flush();
    check_safe(out, sgr);
    if (out != sandpit::escape_terminal(bytes, sgr)) std::abort(); // chunking never changes the result
  }
  return 0;
}
