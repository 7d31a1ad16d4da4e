// Unix stream sockets by directory and name: paths of any length (through /proc/self/fd), peer credentials.
#pragma once

#include "sandpit/sys/fd.hpp"

#include <string>
#include <sys/socket.h>
#include <sys/types.h>

namespace sandpit::sys {

// A listening socket at dir/name, mode 0600 (a stale file there is replaced).
// `type`: SOCK_STREAM, or SOCK_SEQPACKET for messages (send_message/recv_message).
Result<Fd> listen_unix(const std::string& dir, const std::string& name, int type = SOCK_STREAM);
// Connects to dir/name. ENOENT/ECONNREFUSED mean nobody listens.
Result<Fd> connect_unix(const std::string& dir, const std::string& name, int type = SOCK_STREAM);
// The uid of the process at the other end.
Result<uid_t> peer_uid(int fd);
// The pid of the process at the other end (for a connection: the one that listened).
Result<pid_t> peer_pid(int fd);

} // namespace sandpit::sys
