// The channels of a process spawned in the jail: its stdout, stderr (and a driver's control socket), host ends kept here.
#pragma once

#include "sandpit/core/error.hpp"
#include "sandpit/kernels/language.hpp"
#include "sandpit/session/session.hpp"
#include "sandpit/sys/fd.hpp"

namespace sandpit::session {

// One process's host ends (stdout, stderr, and a driver's control socket) and the
// jail's ends, handed over in a spawn request.
struct Channels {
  sys::FdPair out, err, ctl;
  sys::Fd null_fd;
};


// Throws Error(sandbox_setup) "start <language>: <why>".
[[noreturn]] void start_failed(kernels::Language language, const Failure& f);
// Pipes for stdout and stderr, a socketpair for a driver's control channel when `with_ctl`, and /dev/null for stdin.
Channels make_channels(kernels::Language language, bool with_ctl);
// The host keeps the read ends, non-blocking; the jail's ends are closed here.
void keep_host_ends(Channels& c);

} // namespace sandpit::session
