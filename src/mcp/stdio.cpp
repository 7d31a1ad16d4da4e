// serve_lines: the stdio transport, newline-delimited JSON-RPC read with read(2) and written whole.
#include "sandpit/mcp/server.hpp"

#include "sandpit/sys/fd.hpp"

#include <cerrno>
#include <memory>
#include <unistd.h>

namespace sandpit::mcp {
namespace {

class FdTransport final : public Transport {
public:
  explicit FdTransport(int fd) : m_fd(fd) {}
  void send(const std::string& message) override { (void)sys::write_all(m_fd, message + "\n"); }

private:
  int m_fd;
};

} // namespace

bool serve_lines(Tools& tools, int in_fd, int out_fd, ServerOptions options) {
  // On the heap: when a call outlives the grace, both are left for the process's exit to end.
  auto transport = std::make_unique<FdTransport>(out_fd);
  auto server = std::make_unique<Server>(tools, *transport, options);
  std::string buffer;
  std::size_t scanned = 0; // bytes of `buffer` known to hold no newline: a long line is scanned once
  bool skipping = false;   // inside a line longer than k_max_input_line: dropped up to its newline
  char chunk[65536];
  while (true) {
    ssize_t n = ::read(in_fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto newline = buffer.find('\n', scanned); newline != std::string::npos; newline = buffer.find('\n', start)) {
      if (!skipping) server->receive(std::string_view(buffer).substr(start, newline - start));
      skipping = false;
      start = newline + 1;
    }
    buffer.erase(0, start);
    scanned = buffer.size();
    if (buffer.size() > k_max_input_line && !skipping) {
      transport->send(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: a message longer than 64 MiB"}})");
      skipping = true;
    }
    if (skipping) {
      buffer.clear();
      scanned = 0;
    }
  }
  if (!skipping && !buffer.empty()) server->receive(buffer); // a last line without its newline
  if (server->close()) return true;
  (void)server.release();
  (void)transport.release();
  return false;
}

} // namespace sandpit::mcp
