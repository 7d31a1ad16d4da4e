// Jail::spawn_from_template: a kernel forked from a template process (src/kernels/python_template.py) instead
// of exec'd by the init. The template gets what the init's spawn would use — a pidfd of the init (whose
// namespaces the kernel joins), the cgroup files to join, the seccomp program, the limits — and the
// process's fds; never its environment or code, which the session writes to the kernel's control fd.
#include "sandpit/jail/jail.hpp"

#include "sandpit/jail/spec.hpp"
#include "sandpit/jail/user_ns.hpp"
#include "sandpit/sys/unix_socket.hpp"
#include "sandpit/util/trace.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <sys/socket.h>
#include <sys/time.h>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sandpit::jail {
namespace {

using nlohmann::json;

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

} // namespace

std::string template_environment_frame(const std::vector<std::string>& env) {
  json object = json::object();
  for (const auto& entry : env) {
    const auto eq = entry.find('=');
    if (eq != std::string::npos) object[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  const auto text = object.dump();
  return fmt::format("{}\n{}", text.size(), text);
}

Result<pid_t> Jail::spawn_from_template(const std::string& dir, const SpawnRequest& request, std::size_t driver_size) {
  if (request.fds.size() != 4) return Failure{"spawn from template", EINVAL, "needs stdin, stdout, stderr and a control fd"};
  auto connection = sys::connect_unix(dir, "socket", SOCK_SEQPACKET);
  if (!connection) return connection.failure();
  sys::Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, m_init_pid, 0)));
  if (!pidfd.valid()) return errno_failure("pidfd_open of the jail's init");
  std::vector<sys::Fd> cgroup_files;
  if (m_cgroup) {
    for (const auto& file : m_cgroup->self_attach_files()) {
      sys::Fd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd.valid()) return errno_failure("open " + file);
      cgroup_files.push_back(std::move(fd));
    }
  }
  std::vector<int> fds{pidfd.get()};
  for (const auto& fd : cgroup_files) fds.push_back(fd.get());
  fds.insert(fds.end(), request.fds.begin(), request.fds.end());
  json rlimits = json::array();
  for (const auto& limit : m_rlimits) rlimits.push_back({limit.resource, limit.value});
  const json message = {{"cgroup_files", cgroup_files.size()},
                        {"seccomp", hex(m_seccomp)},
                        {"rlimits", rlimits},
                        {"root_mode", id_maps_for(::geteuid(), ::getegid()).root_mode},
                        {"inside_id", k_inside_id},
                        {"cwd", request.cwd},
                        {"driver_size", driver_size}};
  // The template answers within its own deadline (5 s); a template that does not (stopped, wedged) must
  // not hold this session: the kernel starts cold instead.
  timeval limit{10, 0};
  ::setsockopt(connection->get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(connection->get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  if (auto r = sys::send_message(connection->get(), message.dump(), fds); !r) return r.failure();
  auto reply = sys::recv_message(connection->get());
  if (!reply) return reply.failure();
  if (reply->data.empty()) return Failure{"spawn from template", EPIPE, "the template closed the connection"};
  const json answer = json::parse(reply->data, nullptr, false);
  if (answer.value("op", "") != "spawned") {
    return Failure{answer.value("step", std::string("spawn from template")), answer.value("errno", 0), {}};
  }
  const pid_t pid = answer.value("pid", -1);
  const pid_t host_pid = answer.value("host_pid", -1);
  // cgroup v2: no self-attach files; the kernel waits for its environment on fd 3 before it runs anything.
  if (m_cgroup && cgroup_files.empty()) {
    if (auto r = m_cgroup->add(host_pid); !r) {
      ::kill(host_pid, SIGKILL);
      return r.failure();
    }
  }
  trace::mark("spawned from template");
  timeval forever{0, 0}; // from here on the connection waits for the kernel's exit, however long it lives
  ::setsockopt(connection->get(), SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof forever);
  std::lock_guard lock(m_mutex);
  // The waits of kernels that have ended go first: a kernel that keeps dying must not grow the daemon.
  std::erase_if(m_template_waits, [](TemplateWait& w) {
    if (!w.done->load()) return false;
    w.thread.join();
    return true;
  });
  auto done = std::make_shared<std::atomic<bool>>(false);
  const int raw = connection->get();
  m_template_waits.push_back({std::move(connection).value(), std::thread([this, raw, pid, done] {
                                wait_template_kernel(raw, pid);
                                done->store(true);
                              }),
                              done});
  return pid;
}

void Jail::wait_template_kernel(int connection, pid_t pid) {
  int status = SIGKILL; // the template went away: the kernel is no longer followed, and is killed
  while (true) {
    auto message = sys::recv_message(connection);
    if (!message && message.failure().err == EINTR) continue;
    if (message && !message->data.empty()) {
      const json event = json::parse(message->data, nullptr, false);
      if (event.value("op", "") == "exited") status = event.value("status", SIGKILL);
      else continue;
    } else {
      signal(pid, SIGKILL);
    }
    break;
  }
  std::lock_guard lock(m_mutex);
  if (auto it = std::find(m_forgotten.begin(), m_forgotten.end(), pid); it != m_forgotten.end()) {
    m_forgotten.erase(it);
    return;
  }
  m_events.push_back({pid, status});
  notify_exit(pid);
}

} // namespace sandpit::jail
