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
#include <sys/stat.h>
#include <sys/wait.h>

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

namespace {

// socket + bind + listen on 127.0.0.1:port in the calling thread's network namespace; -errno on failure.
// Async-signal-safe: it also runs in a forked child.
int listen_loopback(std::uint16_t port, const char** step) {
  int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return *step = "socket", -errno;
  int one = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return *step = "bind 127.0.0.1 in the jail", -errno;
  if (::listen(sock, 64) != 0) return *step = "listen", -errno;
  return sock;
}

bool same_namespace(pid_t pid, const char* kind) {
  struct stat mine{}, theirs{};
  return ::stat(("/proc/self/ns/" + std::string(kind)).c_str(), &mine) == 0 &&
         ::stat(("/proc/" + std::to_string(pid) + "/ns/" + kind).c_str(), &theirs) == 0 && mine.st_ino == theirs.st_ino &&
         mine.st_dev == theirs.st_dev;
}

// Root joins the network namespace from a thread of its own. A user who owns the jail must join its user
// namespace first (setns to a network namespace also needs CAP_SYS_ADMIN where the caller is), and only a
// single-threaded process may: a forked child does, and sends the socket back.
Result<sys::Fd> listen_from_child(int user_ns, int net_ns, std::uint16_t port) {
  auto pair = sys::make_socketpair(SOCK_SEQPACKET);
  if (!pair) return pair.failure();
  const pid_t child = ::fork();
  if (child < 0) return errno_failure("fork");
  if (child == 0) {
    const char* step = "join the jail's user namespace";
    int result = -1;
    if (::setns(user_ns, CLONE_NEWUSER) != 0) result = -errno;
    else if (step = "join the jail's network namespace", ::setns(net_ns, CLONE_NEWNET) != 0) result = -errno;
    else result = listen_loopback(port, &step);
    int err = result < 0 ? -result : 0;
    char payload[128] = {};
    std::memcpy(payload, &err, sizeof err);
    std::strncpy(payload + sizeof err, step, sizeof payload - sizeof err - 1);
    iovec iov{payload, sizeof payload};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (result >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &result, sizeof result);
    }
    ::_exit(::sendmsg(pair->second.get(), &msg, MSG_NOSIGNAL) < 0 ? 1 : 0);
  }
  pair->second.reset();
  auto message = sys::recv_message(pair->first.get());
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!message) return message.failure();
  if (message->data.size() < sizeof(int)) return Failure{"listen in the jail", EIO, "the helper process sent nothing"};
  int err = 0;
  std::memcpy(&err, message->data.data(), sizeof err);
  if (err != 0 || message->fds.empty()) {
    std::string step(message->data.c_str() + sizeof err);
    return Failure{step, err, ""};
  }
  return std::move(message->fds.front());
}

} // namespace

Result<sys::Fd> listen_inside(pid_t pid, std::uint16_t port) {
  sys::Fd ns(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return errno_failure("open the jail's network namespace");
  if (!same_namespace(pid, "user")) {
    sys::Fd user(::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!user.valid()) return errno_failure("open the jail's user namespace");
    return listen_from_child(user.get(), ns.get(), port);
  }
  Result<sys::Fd> out = Failure{"listen", 0, "not run"};
  // setns() moves only the calling thread: a thread of its own, gone once the socket exists.
  std::thread([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      out = errno_failure("join the jail's network namespace");
      return;
    }
    const char* step = "";
    const int sock = listen_loopback(port, &step);
    if (sock < 0) {
      errno = -sock;
      out = errno_failure(step);
      return;
    }
    out = sys::Fd(sock);
  }).join();
  return out;
}

} // namespace sandpit::jail
