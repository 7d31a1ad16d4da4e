// sandpit's entry point: the CLI, or the jail init when exec'd as one.
#include "sandpit/cli/command.hpp"
#include "sandpit/jail/init.hpp"

#include <cstring>

int main(int argc, char** argv) {
  // The jail init is this same binary, exec'd with an empty environment; it must
  // not read any config or environment of the host.
  if (argc == 2 && std::strcmp(argv[1], sandpit::jail::k_init_arg) == 0) return sandpit::jail::init_main();
  return sandpit::cli::run(argc, argv);
}
