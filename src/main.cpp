// sandpit's entry point: the CLI, or the jail init when exec'd as one.
#include "sandpit/cli/command.hpp"
#include "sandpit/files/quota.hpp"
#include "sandpit/jail/init.hpp"
#include "sandpit/session/daemon.hpp"
#include "sandpit/session/pool.hpp"
#include "sandpit/util/fault.hpp"

#include <csignal>
#include <cstring>
#include <unistd.h>

int main(int argc, char** argv) {
  sandpit::fault::reached("main"); // the crash tests ask for it to learn whether this build has the hooks
  // The jail init is this same binary, exec'd with an empty environment; it must
  // not read any config or environment of the host.
  // _exit: no atexit work (a sanitizer's leak check would need ptrace, which
  // the init's own seccomp filter denies).
  if (argc == 2 && std::strcmp(argv[1], sandpit::jail::k_init_arg) == 0) ::_exit(sandpit::jail::init_main());
  // A sandbox (or a client) that dies mid-write must give us EPIPE, not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  // _exit: the daemon's client threads may still be winding down; the jail is already gone.
  if (argc >= 4 && std::strcmp(argv[1], sandpit::session::k_daemon_arg) == 0) ::_exit(sandpit::session::daemon_main(argc, argv));
  if (argc == 5 && std::strcmp(argv[1], sandpit::session::pool::k_slot_arg) == 0) ::_exit(sandpit::session::pool::slot_main(argc, argv));
  if (argc == 7 && std::strcmp(argv[1], sandpit::session::pool::k_fill_arg) == 0) return sandpit::session::pool::fill_main(argc, argv);
  if (argc == 3 && std::strcmp(argv[1], sandpit::files::k_keeper_arg) == 0) return sandpit::files::mount_keeper_main(argc, argv);
  return sandpit::cli::run(argc, argv);
}
