// ClientCanceller: interrupts a daemon's running execution when its client asks (Ctrl-C, an MCP
// cancellation) or goes away. Shared by the session daemon and a pool sandbox lent to a --fresh run.
#pragma once

#include "run_loop.hpp"

#include "sandpit/session/protocol.hpp"

#include <string>

namespace sandpit::session {

class ClientCanceller final : public Canceller {
public:
  ClientCanceller(int fd, protocol::LineReader& reader) : m_fd(fd), m_reader(reader) {}
  int fd() const override { return m_fd; }
  Stop on_readable() override {
    auto line = m_reader.poll_next();
    if (!line || m_reader.eof()) {
      m_fd = -1; // gone: stop the run, it has nobody to report to
      return Stop::interrupt;
    }
    if (!*line) return Stop::none;
    auto request = protocol::decode_request(**line);
    if (!request || request->type != protocol::RequestType::interrupt) return Stop::none;
    if (m_reason.empty()) m_reason = request->reason;
    return Stop::interrupt;
  }
  // Why the client interrupted, when it said (an MCP client's cancellation); "" for Ctrl-C.
  const std::string& reason() const { return m_reason; }

private:
  int m_fd;
  protocol::LineReader& m_reader;
  std::string m_reason;
};

} // namespace sandpit::session
