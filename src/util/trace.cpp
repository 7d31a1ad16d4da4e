#include "sandpit/util/trace.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace sandpit::trace {
namespace {

using Clock = std::chrono::steady_clock;

struct State {
  bool enabled = std::getenv("SANDPIT_TRACE") != nullptr;
  Clock::time_point start = Clock::now();
};

State& state() {
  static State s;
  return s;
}

// Starts the clock as early as static initialisation allows.
[[maybe_unused]] const bool k_started = (state(), true);

} // namespace

void mark(const char* phase) {
  const auto& s = state();
  if (!s.enabled) return;
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - s.start).count();
  std::fprintf(stderr, "sandpit-trace: %7.2f %s\n", ms, phase);
}

} // namespace sandpit::trace
