// The event loop of one execution: stream output, collect the driver's result, enforce timeout and output caps.
#pragma once

#include "sandpit/jail/jail.hpp"
#include "sandpit/session/execution.hpp"
#include "sandpit/sys/fd.hpp"

#include <chrono>
#include <optional>

namespace sandpit::session {

struct RunChannels {
  sys::Fd out; // read ends, host side
  sys::Fd err;
  sys::Fd ctl; // driver control socket; invalid for bash
};

struct RunOutcome {
  std::optional<nlohmann::json> driver_result; // the driver's {"type":"result",...}
  std::optional<int> wait_status;               // the process's exit status, if it exited
  bool timed_out = false;
  bool output_limit = false;
};

// Runs until process `pid` has exited and its output is drained, the deadline
// passes, or a stream exceeds `output_cap` (then everything in the jail is killed).
RunOutcome run_loop(jail::Jail& jail, pid_t pid, RunChannels& channels,
                    std::chrono::steady_clock::time_point deadline, std::uint64_t output_cap,
                    OutputSink& sink, ExecResult& result);

} // namespace sandpit::session
