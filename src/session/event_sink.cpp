#include "event_sink.hpp"

namespace sandpit::session {

std::size_t complete_utf8_prefix(std::string_view data) {
  // Look back over at most 3 bytes for the start of the last character.
  std::size_t n = data.size();
  for (std::size_t back = 1; back <= 4 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(data[n - back]);
    if ((c & 0xC0) == 0x80) continue; // a continuation byte: keep looking
    std::size_t need = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    return back >= need ? n : n - back;
  }
  return n; // not UTF-8 at all: pass it through as it is
}

} // namespace sandpit::session
