// The session daemon: one per workspace, owns a persistent Session and serves clients over a unix socket.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"

#include "sandpit/sys/fd.hpp"

#include <memory>
#include <string>

namespace sandpit::session {

// argv[1] that makes the sandpit binary run as a session daemon.
inline constexpr const char* k_daemon_arg = "__session-daemon";

// The socket and lock of a workspace's daemon.
std::string socket_path(const Workspace& workspace);
std::string lock_path(const Workspace& workspace);
// A running daemon holds an exclusive flock on this file for its whole life.
std::string alive_path(const Workspace& workspace);

// Serves until idle for config.idle_timeout or told to shut down. Writes "ok\n"
// (or one line of error) to `ready_fd` once clients may connect. Returns the exit code.
// `warm_language`: a kernel to start right after the jail, while the first client connects.
// `config_file`: where `config` came from, for the pool sandboxes a cold start asks for (pool.hpp).
int run_daemon(const Workspace& workspace, const config::Config& config, int ready_fd, const std::string& warm_language = "",
               const std::string& config_file = "");

class Session;
// Serves `session` as `workspace`'s daemon on `listener` (bound at socket_path) until idle or shut down,
// then tears it down. run_daemon ends here, and so does a pool sandbox once it has its workspace.
int serve_session(std::unique_ptr<Session> session, sys::Fd listener, const Workspace& workspace, const config::Config& config);

// Entry point for `sandpit __session-daemon <workspace> <ready-fd> [<config file> [<language>]]`.
int daemon_main(int argc, char** argv);

} // namespace sandpit::session
