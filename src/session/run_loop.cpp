#include "run_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <unistd.h>

namespace sandpit::session {
namespace {

using Clock = std::chrono::steady_clock;

// One output stream: reads, caps, forwards.
class Stream {
public:
  Stream(int fd, std::string& text, bool& truncated, bool is_stderr)
      : m_fd(fd), m_text(text), m_truncated(truncated), m_is_stderr(is_stderr) {}

  bool open() const { return m_fd >= 0; }
  int fd() const { return m_fd; }

  // Reads what is available. Returns false once the cap is exceeded.
  bool pump(std::uint64_t cap, OutputSink& sink) {
    char buf[65536];
    while (m_fd >= 0) {
      ssize_t n = ::read(m_fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      if (n <= 0) {
        m_fd = -1;
        return true;
      }
      std::size_t room = cap > m_text.size() ? cap - m_text.size() : 0;
      std::size_t keep = std::min(room, static_cast<std::size_t>(n));
      if (keep > 0) {
        std::string_view chunk(buf, keep);
        m_text.append(chunk);
        m_is_stderr ? sink.on_stderr(chunk) : sink.on_stdout(chunk);
      }
      if (keep < static_cast<std::size_t>(n)) {
        m_truncated = true;
        m_fd = -1;
        return false;
      }
    }
    return true;
  }

private:
  int m_fd;
  std::string& m_text;
  bool& m_truncated;
  bool m_is_stderr;
};

// Reads newline-delimited JSON from the driver; keeps the result message.
void pump_control(int& fd, std::string& buffer, std::optional<nlohmann::json>& result) {
  char buf[65536];
  while (fd >= 0) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      fd = -1;
      break;
    }
    buffer.append(buf, static_cast<std::size_t>(n));
  }
  std::size_t newline;
  while ((newline = buffer.find('\n')) != std::string::npos) {
    auto message = nlohmann::json::parse(buffer.substr(0, newline), nullptr, false);
    buffer.erase(0, newline + 1);
    if (message.is_object() && message.value("type", "") == "result") result = std::move(message);
  }
}

} // namespace

RunOutcome run_loop(jail::Jail& jail, pid_t pid, RunChannels& ch, Clock::time_point deadline, std::uint64_t cap,
                    OutputSink& sink, ExecResult& result) {
  RunOutcome outcome;
  Stream out(ch.out.get(), result.stdout_text, result.stdout_truncated, false);
  Stream err(ch.err.get(), result.stderr_text, result.stderr_truncated, true);
  int ctl = ch.ctl.valid() ? ch.ctl.get() : -1;
  std::string ctl_buffer;
  bool killed = false;
  auto kill_deadline = Clock::time_point::max();
  auto stop = [&] {
    if (!killed) jail.kill_all();
    killed = true;
    kill_deadline = Clock::now() + std::chrono::seconds(5);
  };

  while (auto queued = jail.pop_queued_event()) {
    if (queued->pid == pid) outcome.wait_status = queued->status;
  }
  while (!outcome.wait_status) {
    auto now = Clock::now();
    if (!killed && now >= deadline) {
      outcome.timed_out = true;
      stop();
    }
    if (killed && now >= kill_deadline) break; // the jail did not report back: give up on it
    pollfd fds[4] = {{out.fd(), POLLIN, 0}, {err.fd(), POLLIN, 0}, {ctl, POLLIN, 0}, {jail.event_fd(), POLLIN, 0}};
    auto until = killed ? kill_deadline : deadline;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    if (::poll(fds, 4, static_cast<int>(std::clamp<long long>(wait, 0, 60'000) + 1)) < 0 && errno != EINTR) break;
    if (!out.pump(cap, sink) || !err.pump(cap, sink)) {
      outcome.output_limit = true;
      stop();
    }
    if ((fds[2].revents & (POLLIN | POLLHUP)) != 0) pump_control(ctl, ctl_buffer, outcome.driver_result);
    if ((fds[3].revents & (POLLIN | POLLHUP)) != 0) {
      auto event = jail.next_event();
      if (!event) break; // the init is gone, and with it every process of the jail
      if (event->pid == pid) outcome.wait_status = event->status;
    }
    while (auto queued = jail.pop_queued_event()) {
      if (queued->pid == pid) outcome.wait_status = queued->status;
    }
  }
  // The process is gone: take what its pipes still hold, without waiting for
  // background children that may keep them open.
  if (!out.pump(cap, sink) || !err.pump(cap, sink)) outcome.output_limit = true;
  if (ctl >= 0) pump_control(ctl, ctl_buffer, outcome.driver_result);
  return outcome;
}

} // namespace sandpit::session
