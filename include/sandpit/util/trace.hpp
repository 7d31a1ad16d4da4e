// Phase timing for performance work: `SANDPIT_TRACE=1 sandpit ...` prints milliseconds since start per phase on stderr.
#pragma once

namespace sandpit::trace {

// Prints "sandpit-trace: <ms> <phase>" when SANDPIT_TRACE is set; otherwise costs one branch.
void mark(const char* phase);

} // namespace sandpit::trace
