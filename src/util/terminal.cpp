#include "sandpit/util/terminal.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace sandpit {
namespace {

// Longer SGR sequences than this are escaped rather than held back without end.
constexpr std::size_t k_max_sequence = 64;

enum class Scan { done, need_more };

void caret(std::string& out, unsigned char c) {
  out += '^';
  out += c == 0x7f ? '?' : static_cast<char>(c + 0x40);
}

// At an ESC: copies a permitted SGR sequence, or escapes the ESC alone.
Scan escape_sequence(std::string_view in, std::size_t& i, bool at_end, Sgr sgr, std::string& out) {
  if (i + 1 >= in.size() && !at_end) return Scan::need_more;
  if (sgr == Sgr::pass && i + 1 < in.size() && in[i + 1] == '[') {
    std::size_t j = i + 2;
    while (j < in.size() && ((in[j] >= '0' && in[j] <= '9') || in[j] == ';' || in[j] == ':')) ++j;
    if (j >= in.size() && !at_end && j - i < k_max_sequence) return Scan::need_more;
    if (j < in.size() && in[j] == 'm' && j - i < k_max_sequence) {
      out.append(in.substr(i, j + 1 - i));
      i = j + 1;
      return Scan::done;
    }
  }
  caret(out, 0x1b);
  ++i;
  return Scan::done;
}

// Length of the UTF-8 sequence a lead byte starts; 0 for a byte that cannot start one.
std::size_t utf8_length(unsigned char c) {
  if (c >= 0xc2 && c <= 0xdf) return 2;
  if (c >= 0xe0 && c <= 0xef) return 3;
  if (c >= 0xf0 && c <= 0xf4) return 4;
  return 0;
}

// At a byte >= 0x80: copies a valid character, escapes C1 controls and stray bytes.
Scan escape_utf8(std::string_view in, std::size_t& i, bool at_end, std::string& out) {
  auto lead = static_cast<unsigned char>(in[i]);
  auto n = utf8_length(lead);
  std::size_t have = 1;
  while (have < n && i + have < in.size() && (static_cast<unsigned char>(in[i + have]) & 0xc0) == 0x80) ++have;
  if (n != 0 && have < n && i + have >= in.size() && !at_end) return Scan::need_more;
  if (n == 0 || have < n) {
    out += fmt::format("\\x{:02x}", lead);
    ++i;
    return Scan::done;
  }
  if (n == 2 && lead == 0xc2 && static_cast<unsigned char>(in[i + 1]) < 0xa0) {
    out += fmt::format("\\u{:04x}", static_cast<unsigned char>(in[i + 1]));
  } else {
    out.append(in.substr(i, n));
  }
  i += n;
  return Scan::done;
}

std::string escape(std::string_view in, bool at_end, Sgr sgr, std::string& rest) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    Scan scan = Scan::done;
    if (c == 0x1b) {
      scan = escape_sequence(in, i, at_end, sgr, out);
    } else if (c < 0x20 || c == 0x7f) {
      caret(out, c);
      ++i;
    } else {
      scan = escape_utf8(in, i, at_end, out);
    }
    if (scan == Scan::need_more) {
      rest.assign(in.substr(i));
      return out;
    }
  }
  rest.clear();
  return out;
}

} // namespace

std::string TerminalEscaper::feed(std::string_view data) {
  std::string in = std::move(m_pending);
  in.append(data);
  return escape(in, false, m_sgr, m_pending);
}

std::string TerminalEscaper::flush() {
  std::string in = std::move(m_pending);
  return escape(in, true, m_sgr, m_pending);
}

std::string escape_terminal(std::string_view data, Sgr sgr) {
  TerminalEscaper escaper(sgr);
  auto text = escaper.feed(data);
  return text + escaper.flush(); // in this order: flush takes what feed held back
}

std::size_t terminal_columns(int fd) {
  winsize size{};
  if (::isatty(fd) != 1 || ::ioctl(fd, TIOCGWINSZ, &size) != 0) return 0;
  return size.ws_col;
}

} // namespace sandpit
