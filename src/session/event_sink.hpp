// Output events for a client: stdout/stderr chunks as protocol messages, never splitting a UTF-8 character.
#pragma once

#include "sandpit/session/execution.hpp"
#include "sandpit/session/protocol.hpp"
#include "sandpit/util/strings.hpp"

namespace sandpit::session {

class EventSink final : public OutputSink {
public:
  explicit EventSink(int fd) : m_fd(fd) {}
  void on_stdout(std::string_view data) override { emit("stdout", m_pending_out, data); }
  void on_stderr(std::string_view data) override { emit("stderr", m_pending_err, data); }
  // Sends what was held back (at the end of an execution).
  void flush() {
    emit("stdout", m_pending_out, {}, true);
    emit("stderr", m_pending_err, {}, true);
  }

private:
  void emit(const char* name, std::string& pending, std::string_view data, bool all = false) {
    pending.append(data);
    std::size_t n = all ? pending.size() : strings::complete_utf8_prefix(pending);
    if (n == 0) return;
    // A client that went away gets nothing more; the run loop sees the hang-up.
    (void)protocol::send(m_fd, {{"type", "stream"}, {"name", name}, {"text", pending.substr(0, n)}});
    pending.erase(0, n);
  }

  int m_fd;
  std::string m_pending_out;
  std::string m_pending_err;
};

} // namespace sandpit::session
