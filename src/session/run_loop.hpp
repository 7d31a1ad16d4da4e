// The event loop of one execution: stream output, collect the driver's result, enforce timeout, output caps and interrupts.
#pragma once

#include "sandpit/jail/jail.hpp"
#include "sandpit/session/execution.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace sandpit::session {

// The read ends of one process's channels (host side, non-blocking).
struct RunChannels {
  int out = -1;
  int err = -1;
  int ctl = -1; // driver control socket; -1 for bash
  std::string cell; // the id the driver's result must carry
  std::string to_send; // the cell's frame, written to ctl as the driver reads it
  bool end_after_send = false; // then shut down our side: one cell, and the driver exits
  std::string reply_type = "result"; // the driver message that ends the run: "result", or "check" for a completeness check
};

enum class Stop { none, interrupt };

// Lets whoever asked for the execution stop it (a client's Ctrl-C or hang-up).
class Canceller {
public:
  virtual ~Canceller() = default;
  // Polled for input while the execution runs; -1 for none.
  virtual int fd() const = 0;
  // Called when fd() is readable or hung up; returns Stop::interrupt to interrupt the run.
  virtual Stop on_readable() = 0;
};

struct RunPolicy {
  // true: done when the driver answers (a kernel that lives on); false: when the process exits.
  bool until_result = false;
  // true: stopping kills everything in the jail (a throwaway jail); false: only the process group.
  bool whole_jail = false;
  // true: SIGINT first, so a kernel survives with its state; false: SIGKILL the
  // group at once (a shell: its background jobs ignore SIGINT).
  bool interrupt_first = true;
  std::chrono::milliseconds grace{2000}; // SIGINT first, SIGKILL after this
};

struct RunOutcome {
  std::optional<nlohmann::json> driver_result; // the driver's {"type":"result",...} (or "check")
  std::optional<int> wait_status;               // the process's exit status, if it exited
  bool timed_out = false;
  bool output_limit = false;
  bool interrupted = false;
  bool killed = false; // stopped by SIGKILL after the grace period
  bool protocol_error = false; // the driver flooded its control socket
};

RunOutcome run_loop(jail::Jail& jail, pid_t pid, const RunChannels& channels, const RunPolicy& policy,
                    std::chrono::steady_clock::time_point deadline, std::uint64_t output_cap, OutputSink& sink,
                    Canceller* canceller, ExecResult& result);

} // namespace sandpit::session
