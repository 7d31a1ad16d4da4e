// The jail init: pid 1 inside the namespaces. Builds the filesystem once, drops privileges, then spawns on request.
#pragma once

namespace sandpit::jail {

// argv[1] that makes the sandpit binary run as the jail init (see launch.cpp).
inline constexpr const char* k_init_arg = "__jail-init";
// The init's inherited fds: its control socket and the workspace directory (O_PATH).
inline constexpr int k_init_ctl_fd = 3;
inline constexpr int k_init_workspace_fd = 4;
// The per-user persistent volume (O_PATH), when the jail has one.
inline constexpr int k_init_persist_fd = 5;

// Entry point when exec'd as the init: control socket on fd 3, workspace on fd 4, empty environment.
// Protocol (SEQPACKET, one JSON object per datagram):
//   host -> init: {"op":"setup",...}; {"op":"spawn","argv","env","cwd"} + stdio fds;
//                 {"op":"signal","pid","signal"}; {"op":"kill_all"}; {"op":"kill_others","keep"}; EOF = shut down
//   init -> host: {"op":"ready"} | {"op":"setup_failed","step","errno"}; {"op":"spawned","pid"} |
//                 {"op":"spawn_failed","step","errno"}; {"op":"exited","pid","status"}
int init_main();

} // namespace sandpit::jail
