#include "sandpit/jail/jail.hpp"

#include "launch.hpp"

#include "sandpit/jail/seccomp.hpp"

#include "sandpit/util/trace.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <poll.h>
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
  jail->m_limits = {jail->m_cgroup ? std::string(jail->m_cgroup->kind()) : std::string(), choice.why_not};
  spec.memory_by_rlimit = spec.pids_by_rlimit = !jail->m_cgroup;

  auto launched = launch_init(spec, jail->m_cgroup.get(), id_maps_for(::geteuid(), ::getegid()));
  if (!launched) return launched.failure();
  jail->m_init_pid = launched->pid;
  jail->m_ctl = std::move(launched->ctl);
  trace::mark("init launched");
  // A failed child step explains a dead init better than the socket error does.
  auto fail = [&](Failure failure) -> Result<std::unique_ptr<Jail>> {
    if (auto step = child_failure(*launched)) return *step;
    return failure;
  };

  // Both messages queue in the socket while the child execs; the seccomp
  // program is built meanwhile and the init waits for it before loading.
  if (auto r = sys::send_message(jail->m_ctl.get(), to_init_json(spec).dump()); !r) return fail(r.failure());
  auto program = build_seccomp_program();
  if (!program) return program.failure();
  if (auto r = sys::send_message(jail->m_ctl.get(), *program); !r) return fail(r.failure());
  if (first != nullptr) {
    if (auto r = sys::send_message(jail->m_ctl.get(), spawn_message(*first), first->fds); !r) return fail(r.failure());
  }
  auto reply = jail->read_reply();
  if (!reply) return fail(reply.failure());
  json message = json::parse(*reply, nullptr, false);
  if (message.value("op", "") != "ready") return reply_failure(message);
  if (first != nullptr) {
    auto spawned = jail->read_reply();
    if (!spawned) return spawned.failure();
    json answer = json::parse(*spawned, nullptr, false);
    if (answer.value("op", "") == "spawned") jail->m_first_pid = answer.at("pid").get<pid_t>();
    else jail->m_first_failure = reply_failure(answer); // the jail is fine; that process is not
  }
  trace::mark("jail ready");
  const json timings = message.value("timings", json::object());
  for (const auto& [phase, ms] : timings.items()) {
    trace::mark(fmt::format("  init {} at {:.2f} ms", phase, ms.get<double>()).c_str());
  }
  return jail;
}

Jail::~Jail() { destroy(); }

Result<std::string> Jail::read_reply() {
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

Result<pid_t> Jail::spawn(const SpawnRequest& request) {
  if (auto r = sys::send_message(m_ctl.get(), spawn_message(request), request.fds); !r) return r.failure();
  auto reply = read_reply();
  if (!reply) return reply.failure();
  json parsed = json::parse(*reply, nullptr, false);
  if (parsed.value("op", "") != "spawned") return reply_failure(parsed);
  trace::mark("spawned");
  return parsed.at("pid").get<pid_t>();
}

void Jail::signal(pid_t pid, int sig) {
  (void)sys::send_message(m_ctl.get(), json{{"op", "signal"}, {"pid", pid}, {"signal", sig}}.dump());
}

void Jail::kill_all() { (void)sys::send_message(m_ctl.get(), R"({"op":"kill_all"})"); }

void Jail::kill_others(const std::vector<pid_t>& keep) {
  (void)sys::send_message(m_ctl.get(), json{{"op", "kill_others"}, {"keep", keep}}.dump());
}

bool Jail::read_events() {
  if (m_dead) return false;
  auto message = sys::recv_message(m_ctl.get());
  if (!message || message->data.empty()) {
    m_dead = true;
    return false;
  }
  json parsed = json::parse(message->data, nullptr, false);
  if (parsed.value("op", "") == "exited") {
    pid_t pid = parsed.at("pid").get<pid_t>();
    if (auto it = std::find(m_forgotten.begin(), m_forgotten.end(), pid); it != m_forgotten.end()) m_forgotten.erase(it);
    else m_events.push_back({pid, parsed.at("status").get<int>()});
  }
  return true;
}

bool Jail::drain_events() {
  while (!m_dead) {
    pollfd p{m_ctl.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || (p.revents & (POLLIN | POLLHUP)) == 0) break;
    if (!read_events()) return false;
  }
  return !m_dead;
}

void Jail::forget(pid_t pid) {
  if (!take_exit(pid)) m_forgotten.push_back(pid);
}

std::optional<int> Jail::take_exit(pid_t pid) {
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
  m_ctl.reset();
  if (m_cgroup) {
    m_cgroup->kill_all();
    m_cgroup->destroy();
    m_cgroup.reset();
  }
  trace::mark("destroyed");
}

} // namespace sandpit::jail
