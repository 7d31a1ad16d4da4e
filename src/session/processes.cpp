#include "sandpit/session/processes.hpp"

#include "sandpit/core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace sandpit::session {
namespace {

using Clock = std::chrono::steady_clock;

// How long a write to a process's stdin may wait for it to read.
constexpr std::chrono::seconds k_stdin_wait{10};
// How long an exit is kept for a client that attaches late.
constexpr std::chrono::seconds k_keep_ended{30};

} // namespace

Subscription::Subscription() : m_efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

std::deque<ProcessEvent> Subscription::take() {
  std::lock_guard lock(m_mutex);
  eventfd_t ignored;
  (void)::eventfd_read(m_efd.get(), &ignored);
  m_bytes = 0;
  return std::exchange(m_queue, {});
}

bool Subscription::overflowed() const {
  std::lock_guard lock(m_mutex);
  return m_overflowed;
}

void Subscription::push(ProcessEvent event) {
  std::lock_guard lock(m_mutex);
  if (m_overflowed) return;
  m_bytes += event.data.size();
  if (m_bytes > k_max_backlog && event.kind != ProcessEvent::Kind::end) {
    m_overflowed = true;
    m_queue.clear();
  } else {
    m_queue.push_back(std::move(event));
  }
  (void)::eventfd_write(m_efd.get(), 1);
}

struct ProcessTable::Entry {
  ProcessInfo info;
  sys::Fd out, err;
  Clock::time_point started;
  std::chrono::milliseconds timeout{0};
  EndHook on_end;
  std::mutex mutex; // in, subscriptions
  sys::Fd in;
  std::vector<std::shared_ptr<Subscription>> subscriptions;

  void broadcast(const ProcessEvent& event) {
    std::lock_guard lock(mutex);
    for (const auto& s : subscriptions) s->push(event);
  }
};

ProcessTable::~ProcessTable() {
  std::vector<pid_t> running;
  {
    std::lock_guard lock(m_mutex);
    m_closing = true;
    for (const auto& [pid, entry] : m_running) running.push_back(pid);
  }
  for (pid_t pid : running) m_jail.signal(-pid, SIGKILL);
  std::unique_lock lock(m_mutex);
  m_pump_ended.wait(lock, [&] { return m_pumps == 0; });
}

pid_t ProcessTable::start(const ProcessSpec& spec, const std::shared_ptr<Subscription>& first, EndHook on_end) {
  {
    std::lock_guard lock(m_mutex);
    if (m_closing) throw Error(ExitCode::sandbox_setup, "start process", "the session is closing");
    if (!spec.tag.empty()) {
      for (const auto& [pid, entry] : m_running) {
        if (entry->info.tag == spec.tag) throw Error(ExitCode::usage, "start process", fmt::format("tag '{}' is in use by process {}", spec.tag, pid));
      }
    }
  }
  auto out = sys::make_pipe();
  auto err = sys::make_pipe();
  if (!out || !err) throw Error(ExitCode::sandbox_setup, "start process", errno_failure("pipe").message());
  sys::FdPair in;
  if (spec.stdin_pipe) {
    auto pipe = sys::make_pipe();
    if (!pipe) throw Error(ExitCode::sandbox_setup, "start process", pipe.failure().message());
    in = std::move(pipe).value();
  } else {
    in.first.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
  jail::SpawnRequest request{spec.argv, spec.env, spec.cwd, {in.first.get(), out->second.get(), err->second.get()}};
  auto entry = std::make_shared<Entry>();
  entry->info = {-1, spec.tag, spec.argv, spec.requested_env, spec.cwd};
  entry->started = Clock::now();
  entry->timeout = spec.timeout;
  entry->on_end = std::move(on_end);
  if (first) entry->subscriptions.push_back(first);
  auto pid = m_jail.spawn(request);
  if (!pid) throw Error(ExitCode::sandbox_setup, "start " + spec.argv.at(0), pid.failure().message());
  entry->info.pid = *pid;
  entry->out = std::move(out->first);
  entry->err = std::move(err->first);
  (void)sys::set_nonblocking(entry->out.get());
  (void)sys::set_nonblocking(entry->err.get());
  if (spec.stdin_pipe) {
    entry->in = std::move(in.second);
    (void)sys::set_nonblocking(entry->in.get());
  }
  std::lock_guard lock(m_mutex);
  m_running[*pid] = entry;
  ++m_pumps;
  try {
    std::thread([this, entry] { pump(entry); }).detach();
  } catch (const std::system_error& e) {
    --m_pumps;
    m_running.erase(*pid);
    m_jail.signal(-*pid, SIGKILL);
    throw Error(ExitCode::sandbox_setup, "start process", std::string("no thread to follow it: ") + e.what());
  }
  return *pid;
}

void ProcessTable::pump(std::shared_ptr<Entry> entry) {
  const pid_t pid = entry->info.pid;
  const sys::Fd exited = m_jail.watch_exit(pid);
  const auto deadline = entry->timeout.count() > 0 ? entry->started + entry->timeout : Clock::time_point::max();
  ProcessEvent end{ProcessEvent::Kind::end, {}, 0, false};
  auto read_some = [&](sys::Fd& fd, ProcessEvent::Kind kind) {
    char buf[65536];
    for (int reads = 0; fd.valid() && reads < 16; ++reads) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        fd.reset();
        return;
      }
      entry->broadcast({kind, std::string(buf, static_cast<std::size_t>(n)), 0, false});
    }
  };
  std::optional<int> status;
  bool killed = false;
  while (!status) {
    const auto now = Clock::now();
    if (!killed && now >= deadline) {
      m_jail.signal(-pid, SIGKILL);
      killed = end.timed_out = true;
    }
    pollfd fds[3] = {{entry->out.get(), POLLIN, 0}, {entry->err.get(), POLLIN, 0}, {exited.get(), POLLIN, 0}};
    int wait = -1;
    if (!killed && deadline != Clock::time_point::max()) {
      wait = static_cast<int>(std::clamp<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1, 1, 60'000));
    }
    if (::poll(fds, 3, wait) < 0 && errno != EINTR) break;
    read_some(entry->out, ProcessEvent::Kind::stdout_data);
    read_some(entry->err, ProcessEvent::Kind::stderr_data);
    if ((fds[2].revents & POLLIN) != 0) {
      status = m_jail.take_exit(pid);
      if (!status && m_jail.dead()) status = SIGKILL; // as if killed: the jail is gone
    }
  }
  // What the pipes hold now; a background child that keeps them open is not waited for.
  read_some(entry->out, ProcessEvent::Kind::stdout_data);
  read_some(entry->err, ProcessEvent::Kind::stderr_data);
  end.status = status.value_or(SIGKILL);
  {
    std::lock_guard lock(m_mutex);
    m_running.erase(pid);
    const auto now = Clock::now();
    std::erase_if(m_ended, [&](const auto& item) { return now - item.second.at > k_keep_ended; });
    m_ended[pid] = Ended{entry->info.tag, end, now};
  }
  entry->broadcast(end);
  if (entry->on_end) entry->on_end(entry->info, end, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - entry->started));
  std::lock_guard lock(m_mutex);
  if (--m_pumps == 0) m_pump_ended.notify_all();
}

std::shared_ptr<ProcessTable::Entry> ProcessTable::find(pid_t pid, const std::string& tag) const {
  std::lock_guard lock(m_mutex);
  if (pid >= 0) {
    auto it = m_running.find(pid);
    return it == m_running.end() ? nullptr : it->second;
  }
  for (const auto& [p, entry] : m_running) {
    if (!tag.empty() && entry->info.tag == tag) return entry;
  }
  return nullptr;
}

bool ProcessTable::attach(pid_t pid, const std::string& tag, const std::shared_ptr<Subscription>& subscription, pid_t& found) {
  auto entry = find(pid, tag);
  if (!entry) {
    std::lock_guard lock(m_mutex);
    for (const auto& [p, ended] : m_ended) {
      if ((pid >= 0 ? p == pid : (!tag.empty() && ended.tag == tag)) && Clock::now() - ended.at <= k_keep_ended) {
        subscription->push(ended.end);
        found = p;
        return true;
      }
    }
    return false;
  }
  std::lock_guard lock(entry->mutex);
  entry->subscriptions.push_back(subscription);
  found = entry->info.pid;
  return true;
}

void ProcessTable::detach(pid_t pid, const Subscription* subscription) {
  auto entry = find(pid, "");
  if (!entry) return;
  std::lock_guard lock(entry->mutex);
  std::erase_if(entry->subscriptions, [&](const auto& s) { return s.get() == subscription; });
}

std::vector<ProcessInfo> ProcessTable::list() const {
  std::lock_guard lock(m_mutex);
  std::vector<ProcessInfo> out;
  for (const auto& [pid, entry] : m_running) out.push_back(entry->info);
  return out;
}

std::vector<pid_t> ProcessTable::pids() const {
  std::lock_guard lock(m_mutex);
  std::vector<pid_t> out;
  for (const auto& [pid, entry] : m_running) out.push_back(pid);
  return out;
}

std::size_t ProcessTable::size() const {
  std::lock_guard lock(m_mutex);
  return m_running.size();
}

ProcessTable::Outcome ProcessTable::write_stdin(pid_t pid, const std::string& tag, const std::string& data, std::string& why) {
  auto entry = find(pid, tag);
  if (!entry) return Outcome::not_found;
  std::lock_guard lock(entry->mutex);
  if (!entry->in.valid()) {
    why = "error writing to stdin: stdin not enabled or closed";
    return Outcome::failed;
  }
  const auto give_up = Clock::now() + k_stdin_wait;
  std::string_view rest = data;
  while (!rest.empty()) {
    ssize_t n = ::write(entry->in.get(), rest.data(), rest.size());
    if (n > 0) {
      rest.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && Clock::now() < give_up) {
      pollfd p{entry->in.get(), POLLOUT, 0};
      (void)::poll(&p, 1, 100);
      continue;
    }
    why = n < 0 && errno == EPIPE ? "the process closed its stdin"
        : n < 0 && errno == EAGAIN ? fmt::format("the process did not read its stdin for {} s", k_stdin_wait.count())
                                   : errno_failure("write stdin").message();
    return Outcome::failed;
  }
  return Outcome::ok;
}

ProcessTable::Outcome ProcessTable::close_stdin(pid_t pid, const std::string& tag, std::string& /*why*/) {
  auto entry = find(pid, tag);
  if (!entry) return Outcome::not_found;
  std::lock_guard lock(entry->mutex);
  entry->in.reset(); // closing what is not open is no error
  return Outcome::ok;
}

ProcessTable::Outcome ProcessTable::signal(pid_t pid, const std::string& tag, int sig, std::string& why) {
  auto entry = find(pid, tag);
  if (!entry) return Outcome::not_found;
  if (sig != SIGKILL && sig != SIGTERM && sig != SIGINT && sig != SIGHUP) {
    why = fmt::format("signal {} is not one a process may be sent here", sig);
    return Outcome::failed;
  }
  // The whole group: `bash -l -c "server &; wait"` must not leave the server behind.
  m_jail.signal(-entry->info.pid, sig);
  return Outcome::ok;
}

} // namespace sandpit::session
