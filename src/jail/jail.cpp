#include "sandpit/jail/jail.hpp"

#include "launch.hpp"

#include "sandpit/jail/seccomp.hpp"

#include "sandpit/util/fault.hpp"
#include "sandpit/util/trace.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandpit::jail {
namespace {

using nlohmann::json;

std::string unique_name() {
  static std::atomic<unsigned> counter{0};
  return fmt::format("{}-{}", ::getpid(), counter++);
}

Failure reply_failure(const json& reply) {
  return Failure{reply.value("step", std::string("jail init")), reply.value("errno", 0), {}};
}

std::string spawn_message(const SpawnRequest& request) {
  return json{{"op", "spawn"}, {"argv", request.argv}, {"env", request.env}, {"cwd", request.cwd}}.dump();
}

} // namespace

Result<std::unique_ptr<Jail>> Jail::start(const JailSpec& requested, const SpawnRequest* first) {
  std::unique_ptr<Jail> jail(new Jail());
  JailSpec spec = requested;
  auto choice = create_cgroup(unique_name(), spec.limits);
  trace::mark("cgroup created");
  jail->m_cgroup = std::move(choice.cgroup);
  jail->m_limits = {jail->m_cgroup ? std::string(jail->m_cgroup->kind()) : std::string(), choice.how, choice.why_not};
  spec.memory_by_rlimit = spec.pids_by_rlimit = !jail->m_cgroup;

  auto launched = launch_init(spec, jail->m_cgroup.get(), id_maps_for(::geteuid(), ::getegid()));
  if (!launched) return launched.failure();
  jail->m_init_pid = launched->pid;
  jail->m_ctl = std::move(launched->ctl);
  trace::mark("init launched");
  fault::reached("jail-setup", jail->m_init_pid);
  // A failed child step explains a dead init better than the socket error does.
  auto fail = [&](Failure failure) -> Result<std::unique_ptr<Jail>> {
    if (auto step = child_failure(*launched)) return *step;
    return failure;
  };

  // Both messages queue in the socket while the child execs; the seccomp
  // program is built meanwhile and the init waits for it before loading.
  const auto setup = to_init_json(spec);
  if (auto r = sys::send_message(jail->m_ctl.get(), setup.dump()); !r) return fail(r.failure());
  auto program = build_seccomp_program();
  if (!program) return program.failure();
  if (auto r = sys::send_message(jail->m_ctl.get(), *program); !r) return fail(r.failure());
  // Kept for kernels made from a template, which apply them to themselves (template_spawn.cpp).
  jail->m_seccomp = std::move(program).value();
  jail->m_rlimits = rlimits_from_json(setup.at("rlimits"));
  if (first != nullptr) {
    if (auto r = sys::send_message(jail->m_ctl.get(), spawn_message(*first), first->fds); !r) return fail(r.failure());
  }
  auto reply = jail->read_reply_directly();
  if (!reply) return fail(reply.failure());
  json message = json::parse(*reply, nullptr, false);
  if (message.value("op", "") != "ready") return reply_failure(message);
  if (first != nullptr) {
    auto spawned = jail->read_reply_directly();
    if (!spawned) return spawned.failure();
    json answer = json::parse(*spawned, nullptr, false);
    if (answer.value("op", "") == "spawned") jail->m_first_pid = answer.at("pid").get<pid_t>();
    else jail->m_first_failure = reply_failure(answer); // the jail is fine; that process is not
  }
  jail->m_reader = std::thread([raw = jail.get()] { raw->read_loop(); });
  trace::mark("jail ready");
  const json timings = message.value("timings", json::object());
  for (const auto& [phase, ms] : timings.items()) {
    trace::mark(fmt::format("  init {} at {:.2f} ms", phase, ms.get<double>()).c_str());
  }
  return jail;
}

Jail::~Jail() { destroy(); }

Result<std::string> Jail::read_reply_directly() {
  // Exit events may arrive before the reply to a request: queue them.
  while (true) {
    auto message = sys::recv_message(m_ctl.get());
    if (!message) return message.failure();
    if (message->data.empty()) {
      m_dead = true;
      return Failure{"jail init", 0, "exited unexpectedly"};
    }
    json parsed = json::parse(message->data, nullptr, false);
    if (parsed.value("op", "") == "exited") {
      m_events.push_back({parsed.at("pid").get<pid_t>(), parsed.at("status").get<int>()});
      continue;
    }
    return std::move(message->data);
  }
}

void Jail::read_loop() {
  while (true) {
    auto message = sys::recv_message(m_ctl.get());
    if (!message && message.failure().err == EINTR) continue;
    std::lock_guard lock(m_mutex);
    if (!message || message->data.empty()) {
      m_dead = true;
      for (auto& [pid, fd] : m_watches) (void)::eventfd_write(fd.get(), 1);
      m_watches.clear();
      m_replied.notify_all();
      return;
    }
    json parsed = json::parse(message->data, nullptr, false);
    if (parsed.value("op", "") != "exited") {
      m_replies.push_back(std::move(message->data));
      m_replied.notify_all();
      continue;
    }
    const pid_t pid = parsed.value("pid", -1);
    if (auto it = std::find(m_forgotten.begin(), m_forgotten.end(), pid); it != m_forgotten.end()) {
      m_forgotten.erase(it);
      continue;
    }
    m_events.push_back({pid, parsed.value("status", 0)});
    notify_exit(pid);
  }
}

void Jail::notify_exit(pid_t pid) {
  if (auto it = m_watches.find(pid); it != m_watches.end()) {
    (void)::eventfd_write(it->second.get(), 1);
    m_watches.erase(it);
  }
}

void Jail::send(const std::string& message, std::span<const int> fds) {
  std::lock_guard lock(m_send_mutex);
  if (m_ctl.valid()) (void)sys::send_message(m_ctl.get(), message, fds);
}

Result<pid_t> Jail::spawn(const SpawnRequest& request) {
  std::unique_lock spawning(m_spawn_mutex);
  {
    std::lock_guard lock(m_send_mutex);
    if (auto r = sys::send_message(m_ctl.get(), spawn_message(request), request.fds); !r) return r.failure();
  }
  std::unique_lock lock(m_mutex);
  m_replied.wait(lock, [&] { return !m_replies.empty() || m_dead; });
  if (m_replies.empty()) return Failure{"jail init", 0, "exited unexpectedly"};
  json parsed = json::parse(m_replies.front(), nullptr, false);
  m_replies.pop_front();
  if (parsed.value("op", "") != "spawned") return reply_failure(parsed);
  trace::mark("spawned");
  return parsed.at("pid").get<pid_t>();
}

void Jail::signal(pid_t pid, int sig) { send(json{{"op", "signal"}, {"pid", pid}, {"signal", sig}}.dump()); }

void Jail::kill_all() { send(R"({"op":"kill_all"})"); }

void Jail::kill_others(const std::vector<pid_t>& keep) { send(json{{"op", "kill_others"}, {"keep", keep}}.dump()); }

sys::Fd Jail::watch_exit(pid_t pid) {
  sys::Fd mine(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!mine.valid()) return mine;
  std::lock_guard lock(m_mutex);
  const bool known = std::any_of(m_events.begin(), m_events.end(), [&](const ExitEvent& e) { return e.pid == pid; });
  if (known || m_dead) {
    (void)::eventfd_write(mine.get(), 1);
  } else {
    m_watches[pid] = sys::Fd(::fcntl(mine.get(), F_DUPFD_CLOEXEC, 3));
  }
  return mine;
}

void Jail::unwatch(pid_t pid) {
  std::lock_guard lock(m_mutex);
  m_watches.erase(pid);
}

bool Jail::dead() const {
  std::lock_guard lock(m_mutex);
  return m_dead;
}

void Jail::forget(pid_t pid) {
  std::lock_guard lock(m_mutex);
  m_watches.erase(pid);
  for (auto it = m_events.begin(); it != m_events.end(); ++it) {
    if (it->pid == pid) {
      m_events.erase(it);
      return;
    }
  }
  m_forgotten.push_back(pid);
}

std::optional<int> Jail::take_exit(pid_t pid) {
  std::lock_guard lock(m_mutex);
  for (auto it = m_events.begin(); it != m_events.end(); ++it) {
    if (it->pid == pid) {
      int status = it->status;
      m_events.erase(it);
      return status;
    }
  }
  return std::nullopt;
}

CgroupUsage Jail::usage() const { return m_cgroup ? m_cgroup->usage() : CgroupUsage{}; }

void Jail::destroy() {
  trace::mark("destroy");
  if (m_init_pid > 0) {
    ::kill(m_init_pid, SIGKILL);
    while (::waitpid(m_init_pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    m_init_pid = -1;
  }
  {
    std::unique_lock lock(m_mutex);
    auto waits = std::move(m_template_waits);
    lock.unlock();
    // The kernels died with the pid namespace; each template connection says so, or is cut here.
    for (auto& wait : waits) {
      ::shutdown(wait.connection.get(), SHUT_RDWR);
      wait.thread.join();
    }
  }
  if (m_reader.joinable()) {
    // The init is dead: its end of the socket is closed, so the reader sees EOF.
    if (m_ctl.valid()) ::shutdown(m_ctl.get(), SHUT_RDWR);
    m_reader.join();
  }
  m_ctl.reset();
  if (m_cgroup) {
    m_cgroup->kill_all();
    m_cgroup->destroy();
    m_cgroup.reset();
  }
  trace::mark("destroyed");
}

} // namespace sandpit::jail
