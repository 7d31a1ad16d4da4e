#include "run_loop.hpp"

#include "sandpit/util/fault.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sandpit::session {
namespace {

using Clock = std::chrono::steady_clock;

// One output stream: reads, caps, forwards.
class Stream {
public:
  Stream(int fd, std::string& text, bool& truncated, bool is_stderr)
      : m_fd(fd), m_text(text), m_truncated(truncated), m_is_stderr(is_stderr) {}

  int fd() const { return m_fd; }

  // Reads what is available. Returns false once the cap is exceeded.
  bool pump(std::uint64_t cap, OutputSink& sink) {
    char buf[65536];
    // Bounded, so that a flood cannot keep us from checking the deadline.
    for (int reads = 0; m_fd >= 0 && reads < 64; ++reads) {
      ssize_t n = ::read(m_fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return true;
      if (n <= 0) {
        m_fd = -1;
        return true;
      }
      if (m_truncated) continue; // past the cap: drain and drop
      std::size_t room = cap > m_text.size() ? cap - m_text.size() : 0;
      std::size_t keep = std::min(room, static_cast<std::size_t>(n));
      if (keep > 0) {
        std::string_view chunk(buf, keep);
        m_text.append(chunk);
        m_is_stderr ? sink.on_stderr(chunk) : sink.on_stdout(chunk);
      }
      if (keep < static_cast<std::size_t>(n)) {
        m_truncated = true;
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

// The driver speaks from inside the sandbox: its messages are bounded in size
// and depth, and only a well-formed result is kept.
constexpr std::size_t k_max_control = 16u << 20;
constexpr std::size_t k_max_depth = 16;

std::optional<nlohmann::json> parse_result(const std::string& line, const std::string& type, const std::string& cell) {
  bool too_deep = false;
  auto limit = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (static_cast<std::size_t>(depth) > k_max_depth) too_deep = true;
    return !too_deep;
  };
  auto message = nlohmann::json::parse(line, limit, false);
  if (too_deep || !message.is_object() || !message.contains("type") || message["type"] != type) return std::nullopt;
  if (!message.contains("cell") || message["cell"] != cell) return std::nullopt; // stale or forged
  return message;
}

// Reads newline-delimited JSON from the driver; keeps the result message.
// Returns false when the driver sent more than k_max_control without a newline.
bool pump_control(int& fd, std::string& buffer, const RunChannels& ch, std::optional<nlohmann::json>& result) {
  char buf[65536];
  while (fd >= 0) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      fd = -1;
      break;
    }
    if (buffer.size() + static_cast<std::size_t>(n) > k_max_control) return false; // refused before it is held
    buffer.append(buf, static_cast<std::size_t>(n));
  }
  std::size_t newline;
  while ((newline = buffer.find('\n')) != std::string::npos) {
    if (auto message = parse_result(buffer.substr(0, newline), ch.reply_type, ch.cell)) result = std::move(message);
    buffer.erase(0, newline + 1);
  }
  return true;
}

// Escalating stop: SIGINT (or, for a throwaway jail, SIGKILL to everything), then SIGKILL after the grace period.
class Stopper {
public:
  Stopper(jail::Jail& jail, pid_t pid, const RunPolicy& policy) : m_jail(jail), m_pid(pid), m_policy(policy) {}

  void begin(Clock::time_point now) {
    if (m_stage != 0) return;
    m_stage = 1;
    if (m_policy.whole_jail) {
      m_jail.kill_all();
      m_stage = 2;
      m_next = now + std::chrono::seconds(5);
    } else if (!m_policy.interrupt_first) {
      m_jail.signal(-m_pid, SIGKILL);
      m_stage = 2;
      m_next = now + std::chrono::seconds(5);
    } else {
      m_jail.signal(-m_pid, SIGINT);
      m_next = now + m_policy.grace;
    }
  }

  // Returns true when the loop should give up waiting altogether.
  bool tick(Clock::time_point now, RunOutcome& outcome) {
    if (m_stage == 0 || now < m_next) return false;
    if (m_stage == 1) {
      m_jail.signal(-m_pid, SIGKILL);
      outcome.killed = true;
      m_stage = 2;
      m_next = now + std::chrono::seconds(5);
      return false;
    }
    return true; // the jail did not report the exit: stop waiting for it
  }

  bool active() const { return m_stage != 0; }
  Clock::time_point next() const { return m_next; }

private:
  jail::Jail& m_jail;
  pid_t m_pid;
  const RunPolicy& m_policy;
  int m_stage = 0;
  Clock::time_point m_next = Clock::time_point::max();
};

} // namespace

RunOutcome run_loop(jail::Jail& jail, pid_t pid, const RunChannels& ch, const RunPolicy& policy, Clock::time_point deadline,
                    std::uint64_t cap, OutputSink& sink, Canceller* canceller, ExecResult& result) {
  RunOutcome outcome;
  Stream out(ch.out, result.stdout_text, result.stdout_truncated, false);
  Stream err(ch.err, result.stderr_text, result.stderr_truncated, true);
  int ctl = ch.ctl;
  int cancel = canceller != nullptr ? canceller->fd() : -1;
  std::string ctl_buffer;
  Stopper stopper(jail, pid, policy);
  auto finished = [&] { return outcome.wait_status || (policy.until_result && outcome.driver_result); };
  auto take_events = [&] {
    if (auto status = jail.take_exit(pid)) outcome.wait_status = status;
  };

  std::string_view unsent = ch.to_send;
  auto send_some = [&] {
    while (!unsent.empty() && ch.ctl >= 0) {
      ssize_t n = ::send(ch.ctl, unsent.data(), unsent.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0) {
        unsent = {}; // the driver is gone; its exit tells the rest
        break;
      }
      unsent.remove_prefix(static_cast<std::size_t>(n));
    }
    if (unsent.empty() && ch.end_after_send && ch.ctl >= 0) ::shutdown(ch.ctl, SHUT_WR);
  };
  if (!unsent.empty()) send_some();
  fault::reached("mid-cell", jail.init_pid());
  bool said_something = false; // for the crash tests' "mid-output" point

  // Readable once the jail reports the process's exit (or dies).
  const sys::Fd exit_watch = jail.watch_exit(pid);
  take_events();
  while (!finished()) {
    auto now = Clock::now();
    if (!stopper.active() && now >= deadline) {
      outcome.timed_out = true;
      stopper.begin(now);
    }
    if (stopper.tick(now, outcome)) break;
    const short ctl_events = static_cast<short>(POLLIN | (unsent.empty() || stopper.active() ? 0 : POLLOUT));
    pollfd fds[5] = {{out.fd(), POLLIN, 0}, {err.fd(), POLLIN, 0}, {ctl, ctl_events, 0}, {exit_watch.get(), POLLIN, 0}, {cancel, POLLIN, 0}};
    auto until = stopper.active() ? stopper.next() : deadline;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    if (::poll(fds, 5, static_cast<int>(std::clamp<long long>(wait, 0, 60'000) + 1)) < 0 && errno != EINTR) break;
    if ((fds[2].revents & POLLOUT) != 0) send_some();
    if (!out.pump(cap, sink) || !err.pump(cap, sink)) {
      outcome.output_limit = true;
      stopper.begin(Clock::now());
    }
    if (!said_something && (!result.stdout_text.empty() || !result.stderr_text.empty())) {
      said_something = true;
      fault::reached("mid-output", jail.init_pid());
    }
    if ((fds[2].revents & (POLLIN | POLLHUP)) != 0 && !pump_control(ctl, ctl_buffer, ch, outcome.driver_result)) {
      outcome.protocol_error = true;
      ctl = -1;
      stopper.begin(Clock::now());
    }
    take_events();
    if ((fds[3].revents & POLLIN) != 0 && !outcome.wait_status && jail.dead()) break; // the jail is gone
    if ((fds[4].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      if (canceller->on_readable() == Stop::interrupt && !stopper.active()) {
        outcome.interrupted = true;
        stopper.begin(Clock::now());
      }
      cancel = canceller->fd(); // -1 once the client is gone or half-closed: it cannot ask again
    }
  }
  if (!outcome.wait_status) jail.unwatch(pid);
  // Take what the pipes hold now, without waiting for background children that may keep them open.
  if (!out.pump(cap, sink) || !err.pump(cap, sink)) outcome.output_limit = true;
  if (ctl >= 0 && !pump_control(ctl, ctl_buffer, ch, outcome.driver_result)) outcome.protocol_error = true;
  return outcome;
}

} // namespace sandpit::session
