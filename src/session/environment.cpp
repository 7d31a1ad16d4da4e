#include "sandpit/session/session.hpp"

namespace sandpit::session {

std::vector<std::string> sandbox_environment() {
  // Documented in docs/SECURITY.md and man/sandpit.1 (ENVIRONMENT INSIDE THE SANDBOX).
  return {
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "HOME=/workspace",
      "USER=sandbox",
      "LOGNAME=sandbox",
      "SHELL=/bin/bash",
      "LANG=C.UTF-8",
      "TERM=dumb",
      "TMPDIR=/tmp",
      "PYTHONUNBUFFERED=1",
      "PYTHONDONTWRITEBYTECODE=1",
      "MPLBACKEND=Agg",
      // matplotlib's font cache takes ~0.5 s to build: keep it where it outlives the session.
      "MPLCONFIGDIR=/workspace/.sandpit/matplotlib",
  };
}

} // namespace sandpit::session
