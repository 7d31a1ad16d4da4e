// Turns: executions in one session run one at a time, in the order they arrived.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

namespace sandpit::session {

class Turns {
public:
  // A place in the queue; wait() until it is served, then done().
  std::uint64_t take() {
    std::lock_guard lock(m_mutex);
    return m_next++;
  }
  // A place only if nobody is running or waiting (for --no-wait).
  std::optional<std::uint64_t> take_if_idle() {
    std::lock_guard lock(m_mutex);
    if (m_next != m_serving) return std::nullopt;
    return m_next++;
  }
  void wait(std::uint64_t ticket) {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [&] { return m_serving == ticket; });
  }
  void done() {
    std::lock_guard lock(m_mutex);
    ++m_serving;
    m_cv.notify_all();
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::uint64_t m_next = 0;
  std::uint64_t m_serving = 0;
};

// Holds a turn for a scope.
class Turn {
public:
  Turn(Turns& turns, std::uint64_t ticket) : m_turns(turns) { turns.wait(ticket); }
  ~Turn() { m_turns.done(); }
  Turn(const Turn&) = delete;
  Turn& operator=(const Turn&) = delete;

private:
  Turns& m_turns;
};

} // namespace sandpit::session
