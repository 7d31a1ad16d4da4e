// The sandbox network: a fresh namespace whose only interface is loopback.
#pragma once

#include <cstdint>
#include <sys/types.h>

#include "sandpit/sys/fd.hpp"
#include "sandpit/util/result.hpp"

namespace sandpit::jail {

// Brings `lo` up in the calling process's (new) network namespace.
Result<void> bring_up_loopback();

// A TCP socket listening on 127.0.0.1:`port` inside the network namespace of
// process `pid` (a jail's own loopback), made by a short-lived thread that
// joins that namespace; the socket is served out here (the egress proxy).
// Needs CAP_SYS_ADMIN over that namespace: root, or the user who owns the jail.
Result<sys::Fd> listen_inside(pid_t pid, std::uint16_t port);

} // namespace sandpit::jail
