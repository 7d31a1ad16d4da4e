// ExitCode: the process exit statuses DESIGN.md promises, the same in every mode.
#pragma once

namespace sandpit {

enum class ExitCode : int {
  success = 0,
  code_failed = 1,   // exception or non-zero exit of the sandboxed code
  usage = 2,         // bad flags, bad config
  policy = 3,        // refused by the pattern list
  denied = 4,        // access denied
  timed_out = 124,
  sandbox_setup = 125,
};

} // namespace sandpit
