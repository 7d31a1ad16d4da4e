// Client: a connection to a workspace's session daemon, started on demand, that runs executions and session commands.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/files/files.hpp"
#include "sandpit/session/execution.hpp"
#include "sandpit/session/protocol.hpp"
#include "sandpit/sys/fd.hpp"

#include <functional>
#include <optional>
#include <string>

namespace sandpit::session {

enum class Start { yes, no };

// A way other than Ctrl-C to interrupt an execution (an MCP client's cancellation):
// once `fd` is readable the run is interrupted, and `reason()` goes into its audit record.
struct Interruption {
  int fd = -1;
  std::function<std::string()> reason;
  // Whether Ctrl-C (SIGINT to this process) interrupts the code. A server that
  // stops on SIGINT says no: its executions must not take the signal.
  bool ctrl_c = true;
};

// The connection to the daemon ended without an answer: the daemon died (or was stopped) mid-request.
class DaemonGone : public Error {
public:
  explicit DaemonGone(std::string why) : Error(ExitCode::sandbox_setup, "session", std::move(why)) {}
};

class Client {
public:
  // Connects to the workspace's daemon. With Start::yes a missing daemon is
  // started (under a lock, so racing clients start exactly one) and a stale
  // socket removed. nullopt only with Start::no and no daemon. Throws Error.
  // `first_language`, when known, lets a daemon this call starts begin that
  // kernel while the client is still connecting.
  // `max_sessions` (session.max_sessions; 0: no limit) bounds how many daemons
  // this user may have running when a new one would start.
  // `pool_config`: take a ready sandbox from the warm pool for a new workspace
  // (session.pool, pool.hpp), and refill the pool after a start.
  static std::optional<Client> connect(const Workspace& workspace, const std::string& config_file, Start start,
                                       const std::string& first_language = "", std::uint64_t max_sessions = 0,
                                       const config::Config* pool_config = nullptr);

  // A pool sandbox lent to one --fresh run (pool::borrow): the connection speaks the daemon's protocol for
  // that one execution, with no hello.
  static Client lent(sys::Fd connection, pid_t pid) {
    Client client(std::move(connection));
    client.m_hello = {{"pid", pid}};
    return client;
  }

  // Runs one execution; output reaches `sink` as it is produced. SIGINT
  // (Ctrl-C) while it runs interrupts the code, not this process. `on_event`,
  // when set, sees every event message as it arrives (for --events).
  ExecResult execute(const protocol::Execute& request, OutputSink& sink,
                     const std::function<void(const nlohmann::json&)>& on_event = {},
                     const Interruption& interruption = {});

  // Whether `code` is a whole cell in `language` ("python" | "javascript" | "typescript" | "bash"), as its parser says. Throws Error.
  Completeness check(const std::string& language, const std::string& code);

  // info / restart / reset / shutdown: the daemon's reply. Throws Error on an error reply.
  nlohmann::json call(protocol::RequestType type);

  // The sandbox's /workspace, /persist and /tmp as its jail sees them (opened
  // by the daemon, passed as fds): what a front end's file calls run beneath. Throws Error.
  files::Roots roots();

  // A request whose answer is one line (process_list, process_input, ...): the
  // reply, or Error for an error reply. Sends `request` as it is.
  nlohmann::json call(const protocol::Request& request);
  // Sends a request whose answer streams (process_start, process_connect): read
  // the events with next_event() until the end.
  void send(const protocol::Request& request);
  // The next message from the daemon, waiting at most `timeout_ms` (-1: for
  // ever). nullopt on timeout. Throws Error when the daemon went away.
  std::optional<nlohmann::json> next_event(int timeout_ms);
  int fd() const { return m_fd.get(); }

  const nlohmann::json& hello() const { return m_hello; }
  // The daemon's pid, from its hello.
  pid_t daemon_pid() const { return m_hello.value("pid", 0); }
  // Whether connect() started this daemon in place of one that had died (its socket was left behind).
  bool replaced_dead_daemon() const { return m_replaced_dead; }

private:
  // Replies carry images (bounded by the driver's 16 MiB cap): allow more than requests.
  explicit Client(sys::Fd fd)
      : m_fd(std::move(fd)), m_reader(std::make_unique<protocol::LineReader>(m_fd.get(), 4 * protocol::k_max_line)) {}
  nlohmann::json read_reply();

  sys::Fd m_fd;
  std::unique_ptr<protocol::LineReader> m_reader;
  nlohmann::json m_hello;
  bool m_replaced_dead = false;
};

} // namespace sandpit::session
