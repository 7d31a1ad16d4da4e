// `sandpit serve`: an HTTP server that speaks E2B's wire protocol, so that apps written for E2B's SDKs run their sandboxes here.
#pragma once

#include "sandpit/config/config.hpp"

#include <string>

namespace sandpit::serve {

struct ServeOptions {
  std::string listen = "127.0.0.1:49982"; // HOST:PORT; port 0 picks a free one
  std::string config_file;                // passed to the session daemons it starts
};

// Listens, prints the three `export E2B_...` lines on stdout, logs to stderr,
// and serves until SIGINT or SIGTERM; then ends every sandbox it started.
// Throws Error(usage) when it cannot listen.
int run_serve(const config::Config& config, const ServeOptions& options);

} // namespace sandpit::serve
