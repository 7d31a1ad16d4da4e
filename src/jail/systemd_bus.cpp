#include "systemd_bus.hpp"

#include "sandpit/sys/fd.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace sandpit::jail::dbus {
namespace {

// D-Bus marshalling, little-endian; offsets count from the start of the header or of the
// body, which both begin 8-aligned.
class Writer {
public:
  void align(std::size_t n) {
    while (m_out.size() % n != 0) m_out.push_back('\0');
  }
  void byte(std::uint8_t b) { m_out.push_back(static_cast<char>(b)); }
  void u32(std::uint32_t v) {
    align(4);
    for (int i = 0; i < 4; ++i) m_out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void string(const std::string& s) { // also an object path
    u32(static_cast<std::uint32_t>(s.size()));
    m_out += s;
    m_out.push_back('\0');
  }
  void signature(const std::string& s) {
    byte(static_cast<std::uint8_t>(s.size()));
    m_out += s;
    m_out.push_back('\0');
  }
  // An array: its length (of the elements, after the padding to their alignment) is filled in by end().
  struct Array {
    std::size_t length_at, start;
  };
  Array begin_array(std::size_t element_alignment) {
    u32(0);
    Array a{m_out.size() - 4, 0};
    align(element_alignment);
    a.start = m_out.size();
    return a;
  }
  void end(const Array& a) {
    const auto length = static_cast<std::uint32_t>(m_out.size() - a.start);
    for (int i = 0; i < 4; ++i) m_out[a.length_at + static_cast<std::size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xff);
  }
  std::string& out() { return m_out; }

private:
  std::string m_out;
};

void string_property(Writer& w, const char* name, const std::string& value) {
  w.align(8);
  w.string(name);
  w.signature("s");
  w.string(value);
}

class Reader {
public:
  Reader(const std::string& data, std::size_t at, std::size_t end) : m_data(data), m_at(at), m_end(end) {}
  bool ok() const { return m_ok; }
  std::size_t at() const { return m_at; }
  void align(std::size_t n) { m_at = (m_at + n - 1) / n * n; }
  std::uint8_t byte() {
    if (m_at + 1 > m_end) return fail(), 0;
    return static_cast<std::uint8_t>(m_data[m_at++]);
  }
  std::uint32_t u32() {
    align(4);
    if (m_at + 4 > m_end) return fail(), 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(m_data[m_at + static_cast<std::size_t>(i)])) << (8 * i);
    m_at += 4;
    return v;
  }
  std::string string() {
    const std::uint32_t n = u32();
    return take(n);
  }
  std::string signature() { return take(byte()); }

private:
  std::string take(std::size_t n) {
    if (!m_ok || m_at + n + 1 > m_end) return fail(), std::string();
    std::string s = m_data.substr(m_at, n);
    m_at += n + 1;
    return s;
  }
  void fail() { m_ok = false; }
  const std::string& m_data;
  std::size_t m_at, m_end;
  bool m_ok = true;
};

constexpr std::uint8_t k_method_call = 1, k_method_return = 2, k_error = 3;
constexpr std::uint8_t k_path = 1, k_interface = 2, k_member = 3, k_error_name = 4, k_reply_serial = 5, k_destination = 6,
                       k_signature = 8;

std::size_t align8(std::size_t n) { return (n + 7) / 8 * 8; }

std::uint32_t le32(const std::string& data, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(data[at + static_cast<std::size_t>(i)])) << (8 * i);
  return v;
}

Result<void> wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  pollfd p{fd, events, 0};
  int n = ::poll(&p, 1, static_cast<int>(std::max<long long>(left, 0)));
  if (n < 0) return errno_failure("poll");
  if (n == 0) return Failure{"systemd", ETIMEDOUT, "no answer"};
  return {};
}

Result<std::string> read_exactly(int fd, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    if (auto r = wait_for(fd, POLLIN, deadline); !r) return r.failure();
    ssize_t got = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno_failure("read");
    if (got == 0) return Failure{"systemd", ECONNRESET, "closed the connection"};
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

} // namespace

std::string start_transient_unit(const std::string& unit, pid_t pid, const std::string& slice, std::uint32_t serial) {
  Writer body;
  body.string(unit);
  body.string("fail");
  auto properties = body.begin_array(8);
  body.align(8);
  body.string("PIDs");
  body.signature("au");
  auto pids = body.begin_array(4);
  body.u32(static_cast<std::uint32_t>(pid));
  body.end(pids);
  body.align(8);
  body.string("Delegate");
  body.signature("b");
  body.u32(1);
  string_property(body, "CollectMode", "inactive-or-failed");
  string_property(body, "Description", fmt::format("sandpit sandboxes of process {}", pid));
  if (!slice.empty()) string_property(body, "Slice", slice);
  body.end(properties);
  auto auxiliary = body.begin_array(8); // a(sa(sv)): none
  body.end(auxiliary);

  Writer m;
  for (std::uint8_t b : {std::uint8_t('l'), k_method_call, std::uint8_t(0), std::uint8_t(1)}) m.byte(b);
  m.u32(static_cast<std::uint32_t>(body.out().size()));
  m.u32(serial);
  auto fields = m.begin_array(8);
  auto field = [&](std::uint8_t code, const char* type, const std::string& value) {
    m.align(8);
    m.byte(code);
    m.signature(type);
    if (std::string(type) == "g") m.signature(value);
    else m.string(value);
  };
  // In GLib's order, so that a unit test can compare with GDBusMessage's bytes.
  field(k_path, "o", "/org/freedesktop/systemd1");
  field(k_interface, "s", "org.freedesktop.systemd1.Manager");
  field(k_destination, "s", "org.freedesktop.systemd1");
  field(k_signature, "g", "ssa(sv)a(sa(sv))");
  field(k_member, "s", "StartTransientUnit");
  m.end(fields);
  m.align(8);
  return m.out() + body.out();
}

std::size_t message_size(const std::string& first16) {
  if (first16.size() < 16 || first16[0] != 'l') return 0;
  return align8(16 + le32(first16, 12)) + le32(first16, 4);
}

Result<std::string> reply_to(const std::string& message, std::uint32_t serial) {
  const std::size_t size = message_size(message);
  if (size == 0 || size > message.size()) return Failure{"systemd", EPROTO, "a malformed D-Bus message"};
  const std::uint8_t type = static_cast<std::uint8_t>(message[1]);
  const std::size_t fields_end = 16 + le32(message, 12);
  Reader fields(message, 16, fields_end);
  std::uint32_t reply_serial = 0;
  std::string error_name, signature;
  while (fields.ok() && fields.at() < fields_end) {
    fields.align(8);
    const std::uint8_t code = fields.byte();
    const std::string type_sig = fields.signature();
    if (type_sig == "u") {
      const auto v = fields.u32();
      if (code == k_reply_serial) reply_serial = v;
    } else if (type_sig == "s" || type_sig == "o") {
      auto v = fields.string();
      if (code == k_error_name) error_name = v;
    } else if (type_sig == "g") {
      auto v = fields.signature();
      if (code == k_signature) signature = v;
    } else {
      return Failure{"systemd", EPROTO, "an unexpected D-Bus header field of type " + type_sig};
    }
  }
  if (!fields.ok()) return Failure{"systemd", EPROTO, "a malformed D-Bus header"};
  if (reply_serial != serial || (type != k_method_return && type != k_error)) {
    return Failure{"systemd", EPROTO, "an answer to another call"};
  }
  Reader body(message, align8(fields_end), size);
  const std::string first = signature.rfind("s", 0) == 0 || signature.rfind("o", 0) == 0 ? body.string() : std::string();
  if (type == k_error) return Failure{"systemd", 0, first.empty() ? error_name : error_name + ": " + first};
  if (signature != "o" || !body.ok()) return Failure{"systemd", EPROTO, "StartTransientUnit answered with signature " + signature};
  return first;
}

Result<std::string> call(const std::string& socket, const std::string& message, std::uint32_t serial, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  sys::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.size() >= sizeof addr.sun_path) return Failure{"connect " + socket, ENAMETOOLONG, {}};
  std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return errno_failure("connect " + socket);
  // SASL EXTERNAL with our uid in hex-encoded ASCII; then the binary protocol.
  std::string uid_hex;
  for (char c : std::to_string(::getuid())) uid_hex += fmt::format("{:02x}", static_cast<unsigned>(c));
  if (auto r = sys::write_all(fd.get(), std::string(1, '\0') + "AUTH EXTERNAL " + uid_hex + "\r\n"); !r) return r.failure();
  std::string line;
  while (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) {
    auto c = read_exactly(fd.get(), 1, deadline);
    if (!c) return c.failure();
    line += *c;
    if (line.size() > 512) return Failure{"systemd", EPROTO, "an endless authentication line"};
  }
  if (line.rfind("OK ", 0) != 0) return Failure{"systemd", EACCES, "refused authentication: " + line.substr(0, line.size() - 2)};
  if (auto r = sys::write_all(fd.get(), "BEGIN\r\n" + message); !r) return r.failure();
  while (true) { // signals may come first; none are asked for, but skip them
    auto head = read_exactly(fd.get(), 16, deadline);
    if (!head) return head.failure();
    const std::size_t size = message_size(*head);
    if (size < 16 || size > (1U << 20)) return Failure{"systemd", EPROTO, "a malformed D-Bus message"};
    auto rest = read_exactly(fd.get(), size - 16, deadline);
    if (!rest) return rest.failure();
    const std::string whole = *head + *rest;
    const auto type = static_cast<std::uint8_t>(whole[1]);
    if (type == k_method_return || type == k_error) return reply_to(whole, serial);
  }
}

} // namespace sandpit::jail::dbus
