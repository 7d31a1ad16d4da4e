#include "channels.hpp"

#include <fcntl.h>
#include <sys/socket.h>

namespace sandpit::session {

using kernels::Language;

[[noreturn]] void start_failed(Language language, const Failure& f) {
  throw Error(ExitCode::sandbox_setup, "start " + std::string(kernels::name_of(language)), f.message());
}

Channels make_channels(Language language, bool with_ctl) {
  Channels c;
  auto out = sys::make_pipe();
  auto err = sys::make_pipe();
  if (!out || !err) start_failed(language, errno_failure("pipe"));
  c.out = std::move(out).value();
  c.err = std::move(err).value();
  if (with_ctl) {
    auto ctl = sys::make_socketpair(SOCK_STREAM);
    if (!ctl) start_failed(language, ctl.failure());
    c.ctl = std::move(ctl).value();
  }
  c.null_fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  return c;
}

void keep_host_ends(Channels& c) {
  c.out.second.reset();
  c.err.second.reset();
  c.ctl.second.reset();
  (void)sys::set_nonblocking(c.out.first.get());
  (void)sys::set_nonblocking(c.err.first.get());
  if (c.ctl.first.valid()) (void)sys::set_nonblocking(c.ctl.first.get());
}


} // namespace sandpit::session
