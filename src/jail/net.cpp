#include "sandpit/jail/net.hpp"

#include "sandpit/sys/fd.hpp"

#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace sandpit::jail {

Result<void> bring_up_loopback() {
  sys::Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return errno_failure("socket");
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0) return errno_failure("SIOCGIFFLAGS lo");
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP | IFF_RUNNING);
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &req) != 0) return errno_failure("SIOCSIFFLAGS lo");
  return {};
}

Result<sys::Fd> listen_inside(pid_t pid, std::uint16_t port) {
  sys::Fd ns(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return errno_failure("open the jail's network namespace");
  Result<sys::Fd> out = Failure{"listen", 0, "not run"};
  // setns() moves only the calling thread: a thread of its own, gone once the socket exists.
  std::thread([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      out = errno_failure("join the jail's network namespace");
      return;
    }
    sys::Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!sock.valid()) {
      out = errno_failure("socket");
      return;
    }
    int one = 1;
    ::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      out = errno_failure("bind 127.0.0.1:" + std::to_string(port) + " in the jail");
      return;
    }
    if (::listen(sock.get(), 64) != 0) {
      out = errno_failure("listen");
      return;
    }
    out = std::move(sock);
  }).join();
  return out;
}

} // namespace sandpit::jail
