// finish(): the result object from what the run loop observed (driver answer, exit status, limits hit).
#pragma once

#include "run_loop.hpp"

#include "sandpit/config/config.hpp"

namespace sandpit::session {

// A wait status as a shell reports it: the exit code, or 128 + signal.
int status_code(int status);

void finish(ExecResult& result, const RunOutcome& outcome, const config::Limits& limits, bool oom_killed,
            const ExecRequest& request);

} // namespace sandpit::session
