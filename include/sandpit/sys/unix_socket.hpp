// Unix stream sockets by directory and name: paths of any length (through /proc/self/fd), peer credentials.
#pragma once

#include "sandpit/sys/fd.hpp"

#include <string>
#include <sys/types.h>

namespace sandpit::sys {

// A listening socket at dir/name, mode 0600 (a stale file there is replaced).
Result<Fd> listen_unix(const std::string& dir, const std::string& name);
// Connects to dir/name. ENOENT/ECONNREFUSED mean nobody listens.
Result<Fd> connect_unix(const std::string& dir, const std::string& name);
// The uid of the process at the other end.
Result<uid_t> peer_uid(int fd);

} // namespace sandpit::sys
