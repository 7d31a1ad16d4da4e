#include "sandpit/session/daemon.hpp"

#include "client_canceller.hpp"

#include "sandpit/files/quota.hpp"
#include "sandpit/session/admission.hpp"
#include "sandpit/session/audit_trail.hpp"
#include "sandpit/util/fault.hpp"

#include "daemon_process.hpp"
#include "event_sink.hpp"
#include "run_loop.hpp"
#include "turns.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/session/pool.hpp"
#include "sandpit/session/protocol.hpp"
#include "sandpit/session/session.hpp"
#include "sandpit/sys/unix_socket.hpp"
#include "sandpit/util/trace.hpp"

#include <algorithm>
#include <condition_variable>
#include <atomic>
#include <map>
#include <fmt/format.h>
#include <mutex>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace sandpit::session {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using protocol::RequestType;

class Daemon {
public:
  Daemon(std::unique_ptr<Session> session, sys::Fd listener, Workspace workspace, const config::Config& config)
      : m_config(config), m_session(std::move(session)), m_listener(std::move(listener)), m_workspace(std::move(workspace)),
        m_idle(config.idle_timeout),
        m_started(Clock::now()), m_idle_since(Clock::now()) {
    auto wake = sys::make_pipe();
    if (wake) m_wake = std::move(wake).value();
    m_info = m_session->info();
  }

  // Accepts clients until shut down or idle; no polling: the loop sleeps until a client or the idle deadline.
  void serve() {
    while (!m_stop) {
      int timeout = -1;
      {
        std::lock_guard lock(m_mutex);
        // A command running in the background keeps the session alive (E2B's background processes).
        if (m_active == 0 && m_session->processes().size() > 0) m_idle_since = Clock::now();
        if (m_active == 0) {
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(m_idle_since + m_idle - Clock::now()).count();
          if (left <= 0) break;
          timeout = static_cast<int>(std::clamp<long long>(left, 1, 60'000));
        }
      }
      pollfd fds[2] = {{m_listener.get(), POLLIN, 0}, {m_wake.first.get(), POLLIN, 0}};
      if (::poll(fds, 2, timeout) < 0 && errno != EINTR) break;
      if ((fds[1].revents & POLLIN) != 0) {
        char buf[64];
        [[maybe_unused]] auto n = ::read(m_wake.first.get(), buf, sizeof buf);
      }
      if ((fds[0].revents & POLLIN) != 0) accept_one();
    }
  }

  // Ends running executions (their processes are killed), waits for their
  // threads to let go of the session, and tears the jail down.
  void close() {
    m_closing = true; // executions still queued are answered, not run
    m_session->interrupt_all();
    Turn last(m_turns, m_turns.take());
    // Executions in other contexts and process streams hold the session too:
    // they end once everything in the jail is killed and m_stop is seen (within a second).
    std::unique_lock lock(m_mutex);
    m_requests_done.wait_for(lock, std::chrono::seconds(5), [&] { return m_in_requests == 0; });
    lock.unlock();
    m_session.reset();
  }

  pid_t init_pid() const { return m_session ? m_session->jail().init_pid() : -1; }

private:
  void accept_one() {
    sys::Fd conn(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) return;
    auto uid = sys::peer_uid(conn.get());
    if (!uid || *uid != ::getuid()) return; // another user: close without a word
    {
      std::lock_guard lock(m_mutex);
      ++m_active;
    }
    std::thread([this, fd = conn.release()] { serve_client(sys::Fd(fd)); }).detach();
  }

  void serve_client(sys::Fd conn) {
    protocol::LineReader reader(conn.get());
    bool greeted = false;
    while (!m_stop) {
      auto line = reader.next();
      if (!line || !*line) break;
      auto request = protocol::decode_request(**line);
      if (!request) {
        (void)protocol::send(conn.get(), error_message("protocol", request.failure().message(), 2));
        continue;
      }
      if (!greeted && request->type != RequestType::hello) {
        (void)protocol::send(conn.get(), error_message("protocol", "say hello first", 2));
        break;
      }
      {
        std::lock_guard lock(m_mutex);
        ++m_in_requests;
      }
      const bool go_on = handle(conn.get(), reader, *request, greeted);
      {
        std::lock_guard lock(m_mutex);
        if (--m_in_requests == 0) m_requests_done.notify_all();
      }
      if (!go_on) break;
    }
    std::lock_guard lock(m_mutex);
    if (--m_active == 0) m_idle_since = Clock::now();
    [[maybe_unused]] auto n = ::write(m_wake.second.get(), "x", 1);
  }

  // Returns false when the connection should close.
  bool handle(int fd, protocol::LineReader& reader, const protocol::Request& r, bool& greeted) {
    switch (r.type) {
    case RequestType::hello:
      if (r.protocol != protocol::k_version) {
        (void)protocol::send(fd, error_message("version",
                                               fmt::format("the session daemon for this workspace speaks protocol {}, this "
                                                           "client {}: run `sandpit session stop` and try again",
                                                           protocol::k_version, r.protocol), 2));
        return false;
      }
      greeted = true;
      (void)protocol::send(fd, {{"type", "hello"}, {"protocol", protocol::k_version}, {"session", m_session->name()}, {"pid", ::getpid()}});
      return true;
    case RequestType::execute: execute(fd, reader, r.execute); return true;
    case RequestType::check: check(fd, r.execute); return true;
    case RequestType::interrupt: return true; // nothing is running for this client
    case RequestType::info: (void)protocol::send(fd, info()); return true;
    case RequestType::restart:
      if (!r.context.empty() || !r.language.empty()) {
        Turns& turns = lane(r.context);
        Turn turn(turns, turns.take());
        const bool had = m_session->restart_context(r.context, kernels::parse_language(r.language));
        snapshot();
        (void)protocol::send(fd, {{"type", "ok"}, {"had_kernel", had}});
        return true;
      }
      [[fallthrough]];
    case RequestType::reset: {
      Turn turn(m_turns, m_turns.take());
      r.type == RequestType::restart ? m_session->restart_kernels() : reset();
      snapshot();
      (void)protocol::send(fd, {{"type", "ok"}});
      return true;
    }
    case RequestType::roots: lend_roots(fd); return true;
    case RequestType::process_start:
    case RequestType::process_connect:
    case RequestType::process_list:
    case RequestType::process_input:
    case RequestType::process_close_stdin:
    case RequestType::process_signal:
      serve_process_request(*m_session, m_config, m_workspace, fd, reader, r, m_stop);
      return true;
    case RequestType::shutdown:
      (void)protocol::send(fd, {{"type", "ok"}});
      m_stop = true;
      [[maybe_unused]] auto n = ::write(m_wake.second.get(), "x", 1);
      return false;
    }
    return true;
  }

  // Executions in one context run one at a time, in arrival order; "" (every
  // CLI, REPL and MCP execution) is the session's own lane.
  Turns& lane(const std::string& context) {
    if (context.empty()) return m_turns;
    std::lock_guard lock(m_mutex);
    auto& turns = m_lanes[context];
    if (!turns) turns = std::make_unique<Turns>();
    return *turns;
  }

  void execute(int fd, protocol::LineReader& reader, const protocol::Execute& e) {
    Turns& turns = lane(e.context);
    auto ticket = e.wait ? std::optional(turns.take()) : turns.take_if_idle();
    if (!ticket) {
      (void)protocol::send(fd, error_message("busy", "another execution is running in this session (drop --no-wait to queue)", 1, "busy"));
      return;
    }
    Turn turn(turns, *ticket);
    if (m_closing) {
      (void)protocol::send(fd, error_message("closing", "the session was stopped before this execution's turn came", 125));
      return;
    }
    if (m_session->jail().dead()) {
      // Its init died (killed from outside): nothing can run here any more. The next client starts a new session.
      (void)protocol::send(fd, error_message("sandbox", "the sandbox of this session had ended (its init died); the session "
                                                        "is stopping, and the next run starts a new one", 125, "session"));
      leave();
      return;
    }
    struct LeaveIfDead {
      Daemon& daemon;
      ~LeaveIfDead() {
        if (daemon.m_session->jail().dead()) daemon.leave(); // the run reported SandboxLost; the next starts afresh
      }
    } leave_if_dead{*this};
    ExecRequest request{*kernels::parse_language(e.language), e.code, e.filename, units::Millis(e.timeout_ms), e.context, e.env, e.cwd, e.packages};
    EventSink sink(fd);
    ClientCanceller canceller(fd, reader);
    auto record = exec_record(Caller{e.user, e.command, e.client}, m_workspace, request);
    record.session = m_session->name();
    // The intent is in the log before the code can have any effect; a log that
    // cannot take it refuses the run.
    std::optional<AuditedAction> action;
    try {
      action.emplace(m_config, m_workspace, record);
      check_env(request.env);
      auto result = m_session->execute(request, sink, &canceller,
                                       [fd](int n) { (void)protocol::send(fd, {{"type", "started"}, {"execution_count", n}}); });
      sink.flush();
      snapshot();
      fault::reached("result");
      set_outcome(record, result);
      if (!canceller.reason().empty()) record.extra["cancelled"] = canceller.reason();
      // Recorded before the client hears the result, and even if it has gone.
      auto warning = action->complete(record);
      fault::reached("recorded");
      if (auto full = files::full_areas(m_config, m_workspace); !full.empty()) warning += (warning.empty() ? "" : "\nsandpit: ") + full;
      // The client has the output already, from the stream events; repeating it
      // here could make the line longer than a reader accepts.
      auto object = to_json(result);
      object.erase("stdout");
      object.erase("stderr");
      json message = {{"type", "result"}, {"result", object}};
      if (!warning.empty()) message["warning"] = warning;
      (void)protocol::send(fd, message);
    } catch (const Error& err) {
      if (action && !action->completed()) {
        record.exit_code = static_cast<int>(err.code());
        record.error = err.subject() + ": " + err.reason();
        (void)action->complete(record);
      }
      (void)protocol::send(fd, error_message("setup", err.reason(), static_cast<int>(err.code()), err.subject()));
    } catch (const std::exception& err) {
      // Never let one execution take the daemon, and every other client's session, down.
      if (action && !action->completed()) {
        record.exit_code = 125;
        record.error = std::string("internal error: ") + err.what();
        (void)action->complete(record);
      }
      (void)protocol::send(fd, error_message("internal", err.what(), 125, "session"));
    }
  }

  // Whether a cell is whole, asked of the kernel in its turn (it may be running another client's cell).
  void check(int fd, const protocol::Execute& e) {
    Turn turn(m_turns, m_turns.take());
    try {
      auto status = m_session->completeness(*kernels::parse_language(e.language), e.code);
      (void)protocol::send(fd, {{"type", "check"}, {"status", name_of(status)}});
    } catch (const Error& err) {
      (void)protocol::send(fd, error_message("setup", err.reason(), static_cast<int>(err.code()), err.subject()));
    } catch (const std::exception& err) {
      (void)protocol::send(fd, error_message("internal", err.what(), 125, "session"));
    }
  }

  // The jail's /workspace, /persist and /tmp (Session::open_roots), passed to the client as fds.
  void lend_roots(int fd) {
    try {
      auto roots = m_session->open_roots();
      const int raw[3] = {roots.workspace.get(), roots.persist.get(), roots.tmp.get()};
      (void)sys::send_message(fd, json{{"type", "roots"}}.dump() + "\n", raw);
    } catch (const Error& e) {
      (void)protocol::send(fd, error_message("setup", e.subject() + ": " + e.reason(), 125));
    }
  }

  // Stops accepting clients: new ones must start a new daemon (the socket goes first).
  void leave() {
    m_stop = true;
    [[maybe_unused]] auto n = ::write(m_wake.second.get(), "x", 1);
  }

  void reset() {
    m_session->kill_processes();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(m_workspace.files_dir, ec)) {
      fs::remove_all(entry.path(), ec);
      fault::reached("reset");
    }
  }

  void snapshot() {
    auto info = m_session->info();
    std::lock_guard lock(m_mutex);
    m_info = std::move(info);
  }

  json info() {
    std::lock_guard lock(m_mutex);
    json kernels = json::array();
    for (const auto& k : m_info.kernels) {
      json kernel = {{"language", k.language}, {"pid", k.pid}, {"executions", k.executions}};
      if (!k.context.empty()) kernel["context"] = k.context;
      kernels.push_back(std::move(kernel));
    }
    return {{"type", "info"},
            {"session", m_info.name},
            {"workspace", m_info.workspace},
            {"pid", ::getpid()},
            {"uptime_s", std::chrono::duration<double>(Clock::now() - m_started).count()},
            {"execution_count", m_info.execution_count},
            {"kernels", kernels},
            {"memory_bytes", m_info.memory_bytes},
            {"processes", m_info.processes},
            {"init_pid", m_session->jail().init_pid()},
            {"pooled", m_info.pooled},
            {"clients", m_active}};
  }

  const config::Config& m_config;
  std::unique_ptr<Session> m_session;
  sys::Fd m_listener;
  Workspace m_workspace;
  units::Millis m_idle;
  Clock::time_point m_started;
  sys::FdPair m_wake;
  Turns m_turns;
  std::mutex m_mutex; // m_active, m_idle_since, m_info, m_lanes
  std::map<std::string, std::unique_ptr<Turns>> m_lanes;
  int m_in_requests = 0; // requests being handled (not idle connections): close() waits for them
  std::condition_variable m_requests_done;
  int m_active = 0;
  Clock::time_point m_idle_since;
  SessionInfo m_info;
  std::atomic<bool> m_stop{false};
  std::atomic<bool> m_closing{false};
};

} // namespace

std::string socket_path(const Workspace& workspace) { return (workspace.state_dir / "socket").string(); }
std::string lock_path(const Workspace& workspace) { return (workspace.state_dir / "lock").string(); }
std::string alive_path(const Workspace& workspace) { return (workspace.state_dir / "alive").string(); }

int run_daemon(const Workspace& workspace, const config::Config& config, int ready_fd, const std::string& warm_language,
               const std::string& config_file) {
  auto report = [&](const std::string& line) {
    if (ready_fd < 0) return;
    (void)sys::write_all(ready_fd, line + "\n");
    ::close(ready_fd);
    ready_fd = -1;
  };
  // Held until this process exits: how clients count the running daemons.
  sys::Fd alive(::open(alive_path(workspace).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (alive.valid()) (void)::flock(alive.get(), LOCK_EX | LOCK_NB);
  std::unique_ptr<Session> session;
  try {
    // Before the jail is cloned: it inherits the quota mounts of this thread.
    fault::reached("start");
    files::enter_quota_mounts(config, workspace);
    // The first client's kernel starts with the jail, while that client connects.
    session = Session::start(config, workspace, Lifetime::persistent, kernels::parse_language(warm_language));
  } catch (const Error& e) {
    report(fmt::format("{}\t{}: {}", static_cast<int>(e.code()), e.subject(), e.reason()));
    return static_cast<int>(e.code());
  }
  trace::mark("daemon: session started");
  auto listener = sys::listen_unix(workspace.state_dir.string(), "socket");
  if (!listener) {
    report(fmt::format("125\tsession daemon: {}", listener.failure().message()));
    return 125;
  }
  report("ok");
  trace::mark("daemon: listening");
  // A cold start: the pool had nothing ready for this workspace (or is off); it makes some for the next ones.
  pool::refill_later(config, config_file, pool::Shape::of(session->profile()));
  return serve_session(std::move(session), std::move(listener).value(), workspace, config);
}

int serve_session(std::unique_ptr<Session> session, sys::Fd listener, const Workspace& workspace, const config::Config& config) {
  Daemon daemon(std::move(session), std::move(listener), workspace, config);
  trace::mark("daemon: serving");
  daemon.serve();
  // New clients must start a new daemon from here on; this one is leaving.
  ::unlink(socket_path(workspace).c_str());
  fault::reached("idle-exit", daemon.init_pid());
  daemon.close();
  return 0;
}

} // namespace sandpit::session

namespace sandpit::session {

int daemon_main(int argc, char** argv) {
  // sandpit __session-daemon <workspace> <ready-fd> [<config file>]
  if (argc < 4) return 2;
  int ready_fd = std::atoi(argv[3]);
  try {
    fault::set_role(fault::Role::daemon);
    auto workspace = Workspace::resolve(argv[2]);
    auto config = config::load({argc > 4 ? argv[4] : ""});
    return run_daemon(workspace, config, ready_fd, argc > 5 ? argv[5] : "", argc > 4 ? argv[4] : "");
  } catch (const Error& e) {
    (void)sys::write_all(ready_fd, fmt::format("{}\t{}: {}\n", static_cast<int>(e.code()), e.subject(), e.reason()));
    return static_cast<int>(e.code());
  }
}

} // namespace sandpit::session
