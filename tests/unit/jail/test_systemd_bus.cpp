#include "../../../src/jail/systemd_bus.hpp"

#include "sandpit/jail/cgroup_v2.hpp"
#include "sandpit/sys/fd.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace sandpit::jail;

namespace {

// GLib's Gio.DBusMessage, little-endian, serial 7, for StartTransientUnit("sandpit-42.scope", "fail",
// [PIDs=[42], Delegate=true, CollectMode="inactive-or-failed", Description="sandpit sandboxes of process 42"], []).
const std::string k_glib_hex = "6c010001c800000007000000b300000001016f00190000002f6f72672f667265656465736b746f702f73797374656d64310000000000000002017300200000006f72672e667265656465736b746f702e73797374656d64312e4d616e61676572000000000000000006017300180000006f72672e667265656465736b746f702e73797374656d64310000000000000000080167001073736128737629612873612873762929000000030173001200000053746172745472616e7369656e74556e69740000000000001000000073616e647069742d34322e73636f706500000000040000006661696c000000009800000004000000504944730002617500000000040000002a0000000800000044656c65676174650001620001000000000000000b000000436f6c6c6563744d6f6465000173000012000000696e6163746976652d6f722d6661696c65640000000000000b0000004465736372697074696f6e00017300001f00000073616e647069742073616e64626f786573206f662070726f63657373203432000000000000000000";

std::string hex(const std::string& bytes) {
  std::string out;
  char two[3];
  for (unsigned char c : bytes) {
    std::snprintf(two, sizeof two, "%02x", c);
    out += two;
  }
  return out;
}

void put32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void pad8(std::string& s) {
  while (s.size() % 8 != 0) s.push_back('\0');
}

// A reply as systemd sends it: type 2 (return, body "o") or 3 (error, body "s").
std::string reply(std::uint8_t type, std::uint32_t reply_serial, const std::string& text, const std::string& error_name = "") {
  std::string body;
  put32(body, static_cast<std::uint32_t>(text.size()));
  body += text;
  body.push_back('\0');
  std::string fields;
  fields += std::string("\x05\x01u\0", 4);
  put32(fields, reply_serial);
  pad8(fields);
  fields += std::string("\x08\x01g\0\x01", 5) + (type == 2 ? "o" : "s") + std::string(1, '\0');
  if (!error_name.empty()) {
    pad8(fields);
    fields += std::string("\x04\x01s\0", 4);
    put32(fields, static_cast<std::uint32_t>(error_name.size()));
    fields += error_name + std::string(1, '\0');
  }
  std::string m = {'l', static_cast<char>(type), 1, 1};
  put32(m, static_cast<std::uint32_t>(body.size()));
  put32(m, 900);
  put32(m, static_cast<std::uint32_t>(fields.size()));
  m += fields;
  pad8(m);
  return m + body;
}

} // namespace

TEST_CASE("dbus::start_transient_unit, the bytes GLib's GDBusMessage makes") {
  const auto message = dbus::start_transient_unit("sandpit-42.scope", 42, "", 7);
  CHECK(hex(message) == k_glib_hex);
  CHECK(dbus::message_size(message.substr(0, 16)) == message.size());
  const auto root = dbus::start_transient_unit("sandpit-42.scope", 42, "sandpit.slice", 8);
  CHECK(root.find(std::string("Slice\0\x01s\0", 9)) != std::string::npos);
  CHECK(root.find(std::string("\x0d\0\0\0sandpit.slice", 17)) != std::string::npos);
  CHECK(dbus::message_size(root.substr(0, 16)) == root.size());
}

TEST_CASE("dbus::reply_to, the job, an error, or an answer to another call") {
  auto job = dbus::reply_to(reply(2, 7, "/org/freedesktop/systemd1/job/42"), 7);
  REQUIRE(job);
  CHECK(*job == "/org/freedesktop/systemd1/job/42");
  auto refused = dbus::reply_to(reply(3, 7, "Unit sandpit-42.scope already exists.", "org.freedesktop.systemd1.UnitExists"), 7);
  REQUIRE_FALSE(refused);
  CHECK(refused.failure().message() == "systemd: org.freedesktop.systemd1.UnitExists: Unit sandpit-42.scope already exists.");
  CHECK_FALSE(dbus::reply_to(reply(2, 6, "/x"), 7));
  CHECK_FALSE(dbus::reply_to("l\x02\x01\x01garbage", 7));
}

TEST_CASE("systemd_manager, one call on a fake manager's private socket") {
  const auto dir = std::filesystem::temp_directory_path() / ("sandpit-bus-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "private").string();
  sandpit::sys::Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener.get(), 1) == 0);
  std::string auth, call;
  for (const std::string answer : {"", "error"}) {
    std::thread manager([&] {
      sandpit::sys::Fd peer(::accept(listener.get(), nullptr, nullptr));
      char c;
      while (auth.size() < 2 || auth.substr(auth.size() - 2) != "\r\n") {
        if (::read(peer.get(), &c, 1) != 1) return;
        auth += c;
      }
      (void)sandpit::sys::write_all(peer.get(), "OK 0123456789abcdef0123456789abcdef\r\n");
      std::string rest;
      char buf[4096];
      while (rest.size() < 7 + 16 || rest.size() < 7 + sandpit::jail::dbus::message_size(rest.substr(7, 16))) {
        ssize_t n = ::read(peer.get(), buf, sizeof buf);
        if (n <= 0) return;
        rest.append(buf, static_cast<std::size_t>(n));
      }
      call = rest;
      const std::uint32_t serial = static_cast<unsigned char>(rest[7 + 8]) | static_cast<unsigned char>(rest[7 + 9]) << 8;
      (void)sandpit::sys::write_all(peer.get(), answer.empty() ? reply(2, serial, "/org/freedesktop/systemd1/job/9")
                                                               : reply(3, serial, "Access denied", "org.freedesktop.DBus.Error.AccessDenied"));
    });
    auto systemd = systemd_manager(path, false);
    auto started = systemd->start_delegated_scope("sandpit-77.scope", 77);
    manager.join();
    std::string uid_hex;
    for (char d : std::to_string(::getuid())) uid_hex += hex(std::string(1, d));
    CHECK(auth == std::string(1, '\0') + "AUTH EXTERNAL " + uid_hex + "\r\n");
    CHECK(call.substr(0, 7) == "BEGIN\r\n");
    CHECK(call.find("sandpit-77.scope") != std::string::npos);
    if (answer.empty()) {
      CHECK_MESSAGE(started, started.failure().message());
    } else {
      REQUIRE_FALSE(started);
      CHECK(started.failure().message() == "systemd: org.freedesktop.DBus.Error.AccessDenied: Access denied");
    }
    auth.clear();
    call.clear();
  }
  std::filesystem::remove_all(dir);
}
