// Fd: an owned file descriptor, and the thin syscall wrappers that move bytes and fds through one.
#pragma once

#include "sandpit/util/result.hpp"

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandpit::sys {

// Owns one file descriptor; closes it on destruction. Move-only.
class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return m_fd; }
  bool valid() const { return m_fd >= 0; }
  int release() { return std::exchange(m_fd, -1); }
  void reset(int fd = -1);

private:
  int m_fd = -1;
};

struct FdPair {
  Fd first;
  Fd second;
};

// pipe2(O_CLOEXEC): first is the read end, second the write end.
Result<FdPair> make_pipe();
// socketpair(AF_UNIX, type | SOCK_CLOEXEC).
Result<FdPair> make_socketpair(int type);

// write(2) until done or a non-EINTR error.
Result<void> write_all(int fd, std::string_view data);
// Reads until EOF.
Result<std::string> read_all(int fd);
Result<std::string> read_file(const std::string& path);
// Writes `data` to an existing file (O_WRONLY|O_TRUNC), e.g. a cgroup or /proc knob.
Result<void> write_file(const std::string& path, std::string_view data);
Result<void> set_nonblocking(int fd);

// One datagram with up to `fds.size()` descriptors (SCM_RIGHTS) on a SEQPACKET socket.
Result<void> send_message(int sock, std::string_view data, std::span<const int> fds = {});
struct Message {
  std::string data; // empty with no fds: the peer closed the socket
  std::vector<Fd> fds;
};
Result<Message> recv_message(int sock);

} // namespace sandpit::sys
