#include "sandpit/sys/unix_socket.hpp"

#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace sandpit::sys {
namespace {

// sun_path holds 108 bytes; a state folder can be longer. Going through an fd
// of the directory keeps the address short whatever the path.
struct Address {
  Fd dir;
  sockaddr_un addr{};
};

Result<Address> address(const std::string& dir, const std::string& name) {
  Address a;
  a.dir.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!a.dir.valid()) return errno_failure("open " + dir);
  std::string path = "/proc/self/fd/" + std::to_string(a.dir.get()) + "/" + name;
  if (path.size() >= sizeof a.addr.sun_path) return Failure{"socket path", ENAMETOOLONG, {}};
  a.addr.sun_family = AF_UNIX;
  std::memcpy(a.addr.sun_path, path.c_str(), path.size() + 1);
  return a;
}

} // namespace

Result<Fd> listen_unix(const std::string& dir, const std::string& name, int type) {
  auto a = address(dir, name);
  if (!a) return a.failure();
  Fd sock(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return errno_failure("socket");
  ::unlinkat(a->dir.get(), name.c_str(), 0);
  mode_t old = ::umask(0177);
  int rc = ::bind(sock.get(), reinterpret_cast<sockaddr*>(&a->addr), sizeof a->addr);
  ::umask(old);
  if (rc != 0) return errno_failure("bind " + dir + "/" + name);
  if (::listen(sock.get(), 128) != 0) return errno_failure("listen");
  return sock;
}

Result<Fd> connect_unix(const std::string& dir, const std::string& name, int type) {
  auto a = address(dir, name);
  if (!a) return a.failure();
  Fd sock(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return errno_failure("socket");
  while (::connect(sock.get(), reinterpret_cast<sockaddr*>(&a->addr), sizeof a->addr) != 0) {
    if (errno != EINTR) return errno_failure("connect " + dir + "/" + name);
  }
  return sock;
}

Result<uid_t> peer_uid(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return errno_failure("SO_PEERCRED");
  return cred.uid;
}

Result<pid_t> peer_pid(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return errno_failure("SO_PEERCRED");
  return cred.pid;
}

} // namespace sandpit::sys
