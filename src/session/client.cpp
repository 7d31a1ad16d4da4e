#include "sandpit/session/client.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/core/version.hpp"
#include "sandpit/session/daemon.hpp"
#include "sandpit/session/pool.hpp"
#include "sandpit/sys/unix_socket.hpp"
#include "sandpit/util/fault.hpp"
#include "sandpit/util/trace.hpp"

#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <cstring>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandpit::session {
namespace {

using nlohmann::json;
using protocol::RequestType;

[[noreturn]] void fail(const std::string& what, const std::string& why, ExitCode code = ExitCode::sandbox_setup) {
  throw Error(code, what, why);
}

// Starts `sandpit __session-daemon` detached, and waits until it listens or says why it cannot.
void spawn_daemon(const Workspace& workspace, const std::string& config_file, const std::string& language) {
  auto ready = sys::make_pipe();
  if (!ready) fail("start session", ready.failure().message());
  // Forked twice: the daemon is nobody's child but init's, so a long-lived client
  // (sandpit serve, mcp) is not left holding a zombie when a daemon exits.
  pid_t pid = ::fork();
  if (pid < 0) fail("start session", std::strerror(errno));
  if (pid == 0) {
    ::setsid();
    if (pid_t daemon = ::fork(); daemon != 0) ::_exit(daemon < 0 ? 125 : 0);
    int null_fd = ::open("/dev/null", O_RDWR);
    int log = ::open((workspace.state_dir / "daemon.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(log >= 0 ? log : null_fd, 2);
    int ready_fd = ::fcntl(ready->second.get(), F_DUPFD, 3);
    ::dup2(ready_fd, 3);
    ::syscall(SYS_close_range, 4U, ~0U, 0U); // nothing of the client's reaches the daemon
    if (::chdir("/") != 0) ::_exit(125);
    std::string exe = "/proc/self/exe";
    std::vector<std::string> args = {"sandpit", k_daemon_arg, workspace.host_dir.string(), "3", config_file, language};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(125);
  }
  ready->second.reset();
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  auto answer = sys::read_all(ready->first.get());
  if (answer && *answer == "ok\n") return;
  std::string line = answer ? *answer : std::string();
  if (!line.empty() && line.back() == '\n') line.pop_back();
  auto tab = line.find('\t');
  if (tab == std::string::npos) fail("start session", line.empty() ? "the session daemon exited at start (see " + (workspace.state_dir / "daemon.log").string() + ")" : line);
  int code = std::atoi(line.substr(0, tab).c_str());
  auto message = line.substr(tab + 1);
  auto colon = message.find(": ");
  throw Error(static_cast<ExitCode>(code ? code : 125), message.substr(0, colon), colon == std::string::npos ? "" : message.substr(colon + 2));
}

// Daemons of this user that are running: each holds a lock on its "alive" file.
std::uint64_t live_daemons() {
  std::uint64_t n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(state_home() / "workspaces", ec)) {
    sys::Fd fd(::open((entry.path() / "alive").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) continue;
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) ++n;
  }
  return n;
}

// Starts the daemon (or takes a pool sandbox for it) unless the user already runs session.max_sessions of
// them. One start at a time per user, so two starts cannot both take the last place.
void start_within_budget(const Workspace& workspace, const std::string& config_file, const std::string& language,
                         std::uint64_t max_sessions, const config::Config* pool_config) {
  sys::Fd lock;
  if (max_sessions > 0) {
    lock = sys::Fd(::open((state_home() / "start.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (lock.valid()) (void)::flock(lock.get(), LOCK_EX);
    if (auto n = live_daemons(); n >= max_sessions) {
      fail("start session", fmt::format("{} sessions are running, as many as session.max_sessions allows "
                                        "(see 'sandpit session list'; stop one with 'sandpit session stop -w DIR')", n));
    }
  }
  if (pool_config && pool::claim(*pool_config, workspace)) {
    trace::mark("pool sandbox taken");
    return;
  }
  spawn_daemon(workspace, config_file, language);
}


// `stale`: the socket is there but nobody listens: its daemon died without removing it.
std::optional<sys::Fd> try_connect(const Workspace& workspace, bool* stale = nullptr) {
  auto fd = sys::connect_unix(workspace.state_dir.string(), "socket");
  if (fd) return std::move(fd).value();
  int err = fd.failure().err;
  if (stale != nullptr) *stale = err == ECONNREFUSED;
  if (err == ENOENT || err == ECONNREFUSED) return std::nullopt;
  fail("connect to session", fd.failure().message());
}

} // namespace

std::optional<Client> Client::connect(const Workspace& workspace, const std::string& config_file, Start start,
                                      const std::string& first_language, std::uint64_t max_sessions, const config::Config* pool_config) {
  bool replaced = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto fd = try_connect(workspace);
    if (!fd && start == Start::no) return std::nullopt;
    if (!fd) {
      workspace.ensure_created();
      sys::Fd lock(::open(lock_path(workspace).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
      if (!lock.valid() || ::flock(lock.get(), LOCK_EX) != 0) fail("lock " + lock_path(workspace), std::strerror(errno));
      bool stale = false; // under the lock nobody is starting one: a socket that refuses is a dead daemon's
      fd = try_connect(workspace, &stale); // another client may have started it while we waited
      if (!fd) {
        replaced = replaced || stale;
        start_within_budget(workspace, config_file, first_language, max_sessions, pool_config);
        trace::mark("daemon started");
        fd = try_connect(workspace);
      }
      if (!fd) fail("connect to session", "the daemon started but does not answer");
    }
    Client client(std::move(*fd));
    protocol::Request hello_request;
    hello_request.type = RequestType::hello;
    hello_request.protocol = protocol::k_version;
    hello_request.client = "sandpit " SANDPIT_VERSION;
    (void)protocol::send(client.m_fd.get(), protocol::encode(hello_request));
    auto line = client.m_reader->next();
    if (!line || !*line) continue; // it was leaving (idle exit) as we came: try once more
    json hello = json::parse(**line, nullptr, false);
    if (hello.value("type", "") == "error") fail("session", hello.value("message", "refused"), ExitCode::usage);
    if (hello.value("type", "") != "hello") fail("session", "unexpected answer from the session daemon");
    client.m_hello = std::move(hello);
    client.m_replaced_dead = replaced;
    return client;
  }
  fail("connect to session", "the session daemon closed the connection twice");
}

json Client::read_reply() {
  auto line = m_reader->next();
  if (!line || !*line) throw DaemonGone("the session daemon went away");
  json reply = json::parse(**line, nullptr, false);
  if (!reply.is_object()) fail("session", "unreadable answer from the session daemon");
  return reply;
}

json Client::call(RequestType type) {
  protocol::Request request;
  request.type = type;
  return call(request);
}

json Client::call(const protocol::Request& request) {
  send(request);
  auto reply = read_reply();
  if (reply.value("type", "") == "error") {
    fail(reply.value("what", "session"), reply.value("message", ""), static_cast<ExitCode>(reply.value("exit_code", 125)));
  }
  return reply;
}

void Client::send(const protocol::Request& request) {
  if (auto r = protocol::send(m_fd.get(), protocol::encode(request)); !r) fail("session", r.failure().message());
}

std::optional<json> Client::next_event(int timeout_ms) {
  while (true) {
    auto line = m_reader->poll_next();
    if (!line) fail("session", line.failure().message());
    if (*line) {
      json event = json::parse(**line, nullptr, false);
      if (!event.is_object()) fail("session", "unreadable answer from the session daemon");
      return event;
    }
    if (m_reader->eof()) throw DaemonGone("the session daemon went away");
    pollfd p{m_fd.get(), POLLIN, 0};
    int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) fail("session", std::strerror(errno));
    if (n == 0) return std::nullopt;
  }
}

files::Roots Client::roots() {
  protocol::Request request;
  request.type = RequestType::roots;
  send(request);
  // The answer carries the fds: read it with recvmsg, not through the line reader.
  char buf[4096];
  iovec iov{buf, sizeof buf};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 3)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(m_fd.get(), &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n <= 0) throw DaemonGone("the session daemon went away");
  std::vector<sys::Fd> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    for (std::size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
  std::string text(buf, static_cast<std::size_t>(n));
  while (text.find('\n') == std::string::npos) {
    ssize_t more = ::recv(m_fd.get(), buf, sizeof buf, 0);
    if (more <= 0) throw DaemonGone("the session daemon went away");
    text.append(buf, static_cast<std::size_t>(more));
  }
  json reply = json::parse(text.substr(0, text.find('\n')), nullptr, false);
  if (reply.value("type", "") == "error") {
    fail(reply.value("what", "session"), reply.value("message", ""), static_cast<ExitCode>(reply.value("exit_code", 125)));
  }
  if (reply.value("type", "") != "roots" || fds.size() != 3) fail("session", "the session daemon did not lend the sandbox's folders");
  return files::Roots{std::move(fds[0]), std::move(fds[1]), std::move(fds[2])};
}

Completeness Client::check(const std::string& language, const std::string& code) {
  protocol::Request request;
  request.type = RequestType::check;
  request.execute.language = language;
  request.execute.code = code;
  if (auto r = protocol::send(m_fd.get(), protocol::encode(request)); !r) fail("session", r.failure().message());
  auto reply = read_reply();
  if (reply.value("type", "") == "error") {
    fail(reply.value("what", "session"), reply.value("message", ""), static_cast<ExitCode>(reply.value("exit_code", 125)));
  }
  return parse_completeness(reply.value("status", "")).value_or(Completeness::complete);
}

ExecResult Client::execute(const protocol::Execute& e, OutputSink& sink, const std::function<void(const json&)>& on_event,
                           const Interruption& interruption) {
  protocol::Request request;
  request.type = RequestType::execute;
  request.execute = e;
  if (auto r = protocol::send(m_fd.get(), protocol::encode(request)); !r) fail("session", r.failure().message());
  // Ctrl-C interrupts the code in the sandbox, not us: take SIGINT through a signalfd while it runs.
  sigset_t ints, old;
  sigemptyset(&ints);
  sigaddset(&ints, SIGINT);
  ::pthread_sigmask(SIG_BLOCK, &ints, &old);
  sys::Fd sigfd(interruption.ctrl_c ? ::signalfd(-1, &ints, SFD_CLOEXEC | SFD_NONBLOCK) : -1);
  struct Restore {
    sigset_t mask;
    ~Restore() { ::pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{old};
  std::string out, err; // the result event leaves them out: they came as stream events
  bool interrupted = false; // by `interruption`: said once
  while (true) {
    auto line = m_reader->poll_next();
    if (!line) fail("session", line.failure().message());
    if (!*line) {
      if (m_reader->eof()) throw DaemonGone("the session daemon went away during the execution");
      pollfd fds[3] = {{m_fd.get(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}, {interrupted ? -1 : interruption.fd, POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0 && errno != EINTR) fail("session", std::strerror(errno));
      if (sigfd.valid() && (fds[1].revents & POLLIN) != 0) {
        signalfd_siginfo info;
        while (::read(sigfd.get(), &info, sizeof info) == sizeof info) {
        }
        (void)protocol::send(m_fd.get(), {{"type", "interrupt"}});
      }
      if ((fds[2].revents & (POLLIN | POLLHUP)) != 0) {
        interrupted = true;
        protocol::Request stop;
        stop.type = RequestType::interrupt;
        stop.reason = interruption.reason ? interruption.reason() : "";
        (void)protocol::send(m_fd.get(), protocol::encode(stop));
      }
      continue;
    }
    json event = json::parse(**line, nullptr, false);
    if (on_event) on_event(event);
    const auto type = event.value("type", "");
    if (type == "started") fault::reached("started");
    if (type == "stream") {
      fault::reached("output"); // the crash tests: the cell is running for sure (it wrote)
      const auto text = event.value("text", "");
      if (event.value("name", "") == "stderr") {
        err += text;
        sink.on_stderr(text);
      } else {
        out += text;
        sink.on_stdout(text);
      }
    } else if (type == "result") {
      if (event.contains("warning") && event["warning"].is_string()) {
        fmt::print(stderr, "sandpit: {}\n", event["warning"].get<std::string>());
      }
      auto result = from_json(event["result"]);
      result.stdout_text = std::move(out);
      result.stderr_text = std::move(err);
      return result;
    } else if (type == "error") {
      fail(event.value("what", "session"), event.value("message", ""), static_cast<ExitCode>(event.value("exit_code", 125)));
    }
  }
}

} // namespace sandpit::session
