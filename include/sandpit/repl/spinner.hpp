// The elapsed time on stderr while nothing is written: "⠋ 3.2s", drawn after a quiet second, only at the start of
// a line, and wiped before the next output. The REPL's cells and a terminal install (`sandpit install`, `.install`,
// `exec -p`) show it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace sandpit::repl {

class Spinner {
public:
  explicit Spinner(bool utf8);
  ~Spinner(); // stops and wipes it
  Spinner(const Spinner&) = delete;
  Spinner& operator=(const Spinner&) = delete;

  // Held while output is written: the spinner is wiped and waits. Tell it whether the output ended a line.
  class Quiet {
  public:
    explicit Quiet(Spinner& spinner);
    ~Quiet();
    void line_start(bool at_start) { m_spinner.m_line_start = at_start; }

  private:
    Spinner& m_spinner;
    std::unique_lock<std::mutex> m_lock;
  };
  Quiet quiet() { return Quiet(*this); }
  void stop();

private:
  void spin();
  void wipe();

  bool m_utf8;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::chrono::steady_clock::time_point m_started, m_last_output;
  bool m_line_start = true;
  bool m_drawn = false;
  bool m_stop = false;
  std::thread m_thread;
};

} // namespace sandpit::repl
