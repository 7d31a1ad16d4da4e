// Processes: commands that run beside a session's cells (E2B's envd process API), their output broadcast to whoever attaches.
#pragma once

#include "sandpit/jail/jail.hpp"
#include "sandpit/sys/fd.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sandpit::session {

struct ProcessSpec {
  std::vector<std::string> argv;         // argv[0] absolute inside the jail
  std::vector<std::string> env;          // the whole environment
  std::string cwd;
  bool stdin_pipe = false;               // keep a pipe to its stdin; else /dev/null
  std::string tag;                       // "" for none
  std::chrono::milliseconds timeout{0};  // 0: runs until it ends or is killed
  std::map<std::string, std::string> requested_env; // what the caller asked for (listed back to it)
};

// One thing that happened to a process, in order: output, then its end.
struct ProcessEvent {
  enum class Kind { stdout_data, stderr_data, end };
  Kind kind = Kind::stdout_data;
  std::string data;      // output bytes
  int status = 0;        // end: the waitpid status
  bool timed_out = false;
};

// What an attached client receives: events queued as they happen, and an fd
// that is readable while the queue holds any. Bounded: a client that does not
// keep up loses the subscription (overflowed()), never the daemon's memory.
class Subscription {
public:
  Subscription();
  int fd() const { return m_efd.get(); }
  // Takes everything queued (and clears fd()'s readiness).
  std::deque<ProcessEvent> take();
  bool overflowed() const;
  void push(ProcessEvent event); // by the process's pump

private:
  static constexpr std::size_t k_max_backlog = 32u << 20;
  sys::Fd m_efd;
  mutable std::mutex m_mutex;
  std::deque<ProcessEvent> m_queue;
  std::size_t m_bytes = 0;
  bool m_overflowed = false;
};

struct ProcessInfo {
  pid_t pid = -1; // inside the jail
  std::string tag;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env; // as requested
  std::string cwd;
};

class ProcessTable {
public:
  // `on_end` runs on the pump thread when a process ends (its audit record).
  using EndHook = std::function<void(const ProcessInfo&, const ProcessEvent& end, std::chrono::milliseconds took)>;
  explicit ProcessTable(jail::Jail& jail) : m_jail(jail) {}
  ~ProcessTable(); // kills what still runs and joins the pumps
  ProcessTable(const ProcessTable&) = delete;
  ProcessTable& operator=(const ProcessTable&) = delete;

  // Starts a process and subscribes `first` before any output can be lost.
  // Throws Error(sandbox_setup) when the jail cannot spawn it, Error(usage) for a tag in use.
  pid_t start(const ProcessSpec& spec, const std::shared_ptr<Subscription>& first, EndHook on_end);
  // Attaches to a running process by pid, or by tag when pid < 0. false: no
  // such process. One that ended in the last 30 s is found too: its end event
  // is queued at once (E2B's envd keeps exits that long for a late Connect).
  bool attach(pid_t pid, const std::string& tag, const std::shared_ptr<Subscription>& subscription, pid_t& found);
  void detach(pid_t pid, const Subscription* subscription);
  std::vector<ProcessInfo> list() const;
  // The operations E2B's SendInput, CloseStdin and SendSignal name; each returns
  // "" or why it failed (not_found when no such process runs).
  enum class Outcome { ok, not_found, failed };
  Outcome write_stdin(pid_t pid, const std::string& tag, const std::string& data, std::string& why);
  Outcome close_stdin(pid_t pid, const std::string& tag, std::string& why);
  Outcome signal(pid_t pid, const std::string& tag, int signal, std::string& why);
  // Every running process's pid (kept by the session's background = "kill" policy).
  std::vector<pid_t> pids() const;
  std::size_t size() const;

private:
  struct Entry;
  std::shared_ptr<Entry> find(pid_t pid, const std::string& tag) const;
  void pump(std::shared_ptr<Entry> entry);

  jail::Jail& m_jail;
  mutable std::mutex m_mutex;
  std::map<pid_t, std::shared_ptr<Entry>> m_running;
  struct Ended {
    std::string tag;
    ProcessEvent end;
    std::chrono::steady_clock::time_point at;
  };
  std::map<pid_t, Ended> m_ended; // the last 30 s of exits
  std::condition_variable m_pump_ended;
  int m_pumps = 0; // pump threads still running (detached; the destructor waits for them)
  bool m_closing = false;
};

} // namespace sandpit::session
