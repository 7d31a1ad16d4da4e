#include "sandpit/jail/init.hpp"

#include "sandpit/jail/caps.hpp"
#include "sandpit/jail/mounts.hpp"
#include "sandpit/jail/net.hpp"
#include "sandpit/jail/rlimits.hpp"
#include "sandpit/jail/seccomp.hpp"
#include "sandpit/sys/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sched.h>
#include <set>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandpit::jail {
namespace {

using nlohmann::json;
constexpr int k_ctl = k_init_ctl_fd;
constexpr const char* k_new_root = "/tmp";

void send(const json& message) { (void)sys::send_message(k_ctl, message.dump()); }

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

Result<void> setup_jail(const json& spec, int workspace_fd, json& timings) {
  const auto start = std::chrono::steady_clock::now();
  if (::unshare(CLONE_NEWCGROUP) != 0 && errno != EINVAL) return errno_failure("unshare cgroup namespace");
  RootSetup root;
  root.ro_binds = inspect_host_paths(spec.at("ro_binds").get<std::vector<std::string>>());
  root.workspace_source = "/proc/self/fd/" + std::to_string(workspace_fd);
  const bool persist = spec.value("persist", false);
  if (persist) root.persist_source = "/proc/self/fd/" + std::to_string(k_init_persist_fd);
  root.tmp_size = spec.at("tmp_size").get<std::uint64_t>();
  root.tmp_inodes = spec.at("tmp_inodes").get<std::uint64_t>();
  root.hostname = spec.at("hostname").get<std::string>();
  root.home = spec.value("home", std::string());
  root.user_name = spec.value("user_name", std::string("sandbox"));
  if (auto r = run_plan(plan_root(root, k_new_root), k_new_root); !r) return r;
  timings["mounts"] = ms_since(start);
  ::close(workspace_fd);
  if (persist) ::close(k_init_persist_fd);
  if (::chdir("/workspace") != 0) return errno_failure("chdir /workspace");
  if (::sethostname(root.hostname.data(), root.hostname.size()) != 0) return errno_failure("sethostname");
  if (!spec.at("network").get<bool>()) {
    if (auto r = bring_up_loopback(); !r) return r;
  }
  if (auto r = drop_privileges(); !r) return r;
  timings["privileges"] = ms_since(start);
  // The host sends the filter right after the setup message (see Jail::start).
  auto program = sys::recv_message(k_ctl);
  if (!program || program->data.empty()) return Failure{"receive seccomp filter", program ? EPIPE : program.failure().err, {}};
  if (auto r = load_seccomp_program(program->data); !r) return r;
  timings["seccomp"] = ms_since(start);
  // Nobody inside may read our memory, environment or /proc/1/exe.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return errno_failure("prctl(PR_SET_DUMPABLE)");
  return {};
}

std::vector<char*> c_strings(std::vector<std::string>& items) {
  std::vector<char*> out;
  for (auto& s : items) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Forks one process: new session, the passed fds as 0..n-1, nothing else open.
void spawn(const json& request, std::vector<sys::Fd>& fds, std::set<pid_t>& children, const std::vector<Rlimit>& limits) {
  auto argv_s = request.at("argv").get<std::vector<std::string>>();
  auto env_s = request.at("env").get<std::vector<std::string>>();
  auto cwd = request.value("cwd", std::string("/workspace"));
  if (argv_s.empty()) return send({{"op", "spawn_failed"}, {"step", "spawn"}, {"errno", EINVAL}});
  auto argv = c_strings(argv_s);
  auto env = c_strings(env_s);
  auto report = sys::make_pipe();
  if (!report) return send({{"op", "spawn_failed"}, {"step", "pipe"}, {"errno", report.failure().err}});
  pid_t pid = ::fork();
  if (pid < 0) return send({{"op", "spawn_failed"}, {"step", "fork"}, {"errno", errno}});
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setsid();
    // Move the passed fds out of the way, then into place as 0..n-1.
    // (Above n, not at a fixed high number: RLIMIT_NOFILE may be low.)
    int n = static_cast<int>(fds.size());
    std::vector<int> high;
    for (auto& fd : fds) high.push_back(::fcntl(fd.get(), F_DUPFD_CLOEXEC, n));
    const int report_fd = ::fcntl(report->second.get(), F_DUPFD_CLOEXEC, n);
    for (int i = 0; i < n; ++i) ::dup2(high[static_cast<std::size_t>(i)], i);
    // Closed, not just close-on-exec: it is about to be dumpable, and code in the jail (same uid) may then
    // read /proc/PID/fd and write /proc/PID/mem before the execve. It keeps the passed fds and the report.
    ::dup2(report_fd, n);
    ::fcntl(n, F_SETFD, FD_CLOEXEC);
    ::syscall(SYS_close_range, static_cast<unsigned>(n + 1), ~0U, 0U);
    const int report_out = n;
    int failed[2] = {0, 0}; // {step: 0 rlimits, 1 chdir, 2 execve; errno}
    int& err = failed[1];
    // At the memory limit the kernel must pick the code, never the init (and on
    // the host, a sandbox before anything else): raising one's own score needs no privilege.
    // (Dumpable again first: the init is not, and /proc/self is root's while so.)
    ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (int oom = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); oom >= 0) {
      [[maybe_unused]] auto written = ::write(oom, "1000", 4);
      ::close(oom);
    }
    // Limits bind the spawned process and its descendants, not the init, which
    // must keep managing them (and may be a sanitizer build that maps a lot).
    if (auto r = apply_rlimits(limits); !r) err = r.failure().err;
    else if (::chdir(cwd.c_str()) != 0) failed[0] = 1, err = errno;
    else {
      ::execve(argv[0], argv.data(), env.data());
      failed[0] = 2, err = errno;
    }
    [[maybe_unused]] auto w = ::write(report_out, failed, sizeof failed);
    ::_exit(127);
  }
  report->second.reset();
  fds.clear();
  int failed[2] = {0, 0};
  if (::read(report->first.get(), failed, sizeof failed) == sizeof failed) {
    ::waitpid(pid, nullptr, 0);
    const std::string step = failed[0] == 0 ? "rlimits" : failed[0] == 1 ? "chdir " + cwd : "execve " + argv_s[0];
    return send({{"op", "spawn_failed"}, {"step", step}, {"errno", failed[1]}});
  }
  children.insert(pid);
  send({{"op", "spawned"}, {"pid", pid}});
}

// Every process in the jail but the init and `keep` (this /proc is the jail's own).
void kill_others(const std::vector<pid_t>& keep) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 1 || std::find(keep.begin(), keep.end(), pid) != keep.end()) continue;
    ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  ::closedir(proc);
}

void reap(std::set<pid_t>& children) {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    if (children.erase(pid) != 0) send({{"op", "exited"}, {"pid", pid}, {"status", status}});
  }
}

int serve(int sigfd, const std::vector<Rlimit>& limits) {
  std::set<pid_t> children;
  pollfd fds[2] = {{k_ctl, POLLIN, 0}, {sigfd, POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      signalfd_siginfo info;
      while (::read(sigfd, &info, sizeof info) == sizeof info) {
      }
      reap(children);
    }
    if (fds[0].revents == 0) continue;
    auto message = sys::recv_message(k_ctl);
    if (!message || (message->data.empty() && message->fds.empty())) break;
    json request = json::parse(message->data, nullptr, false);
    if (request.is_discarded()) continue;
    const auto op = request.value("op", std::string());
    if (op == "spawn") spawn(request, message->fds, children, limits);
    else if (op == "signal") ::kill(request.at("pid").get<pid_t>(), request.at("signal").get<int>());
    else if (op == "kill_all") ::kill(-1, SIGKILL);
    else if (op == "kill_others") kill_others(request.value("keep", std::vector<pid_t>{}));
  }
  // The host went away: take everything in the namespace down with us.
  ::kill(-1, SIGKILL);
  while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
  return 0;
}

} // namespace

int init_main() {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  int sigfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  auto message = sys::recv_message(k_ctl);
  if (!message || message->data.empty()) return 1;
  json spec = json::parse(message->data, nullptr, false);
  if (spec.is_discarded()) return 1;
  int workspace_fd = k_init_workspace_fd;
  Result<void> ready = Failure{"parse setup", EINVAL, {}};
  json timings = json::object();
  try {
    ready = setup_jail(spec, workspace_fd, timings);
  } catch (const json::exception& e) {
    ready = Failure{"parse setup", EINVAL, e.what()};
  }
  if (!ready) {
    send({{"op", "setup_failed"}, {"step", ready.failure().what}, {"errno", ready.failure().err}});
    return 1;
  }
  send({{"op", "ready"}, {"timings", timings}});
  return serve(sigfd, rlimits_from_json(spec.at("rlimits")));
}

} // namespace sandpit::jail
