#include "sandpit/repl/spinner.hpp"

#include "sandpit/sys/fd.hpp"

#include <fmt/format.h>
#include <string_view>
#include <unistd.h>

namespace sandpit::repl {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto k_quiet_before_spinner = 1s;

} // namespace

Spinner::Spinner(bool utf8) : m_utf8(utf8), m_started(Clock::now()), m_last_output(m_started), m_thread([this] { spin(); }) {}

Spinner::~Spinner() { stop(); }

void Spinner::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) m_thread.join();
  std::lock_guard lock(m_mutex);
  wipe();
}

Spinner::Quiet::Quiet(Spinner& spinner) : m_spinner(spinner), m_lock(spinner.m_mutex) { m_spinner.wipe(); }

Spinner::Quiet::~Quiet() { m_spinner.m_last_output = Clock::now(); }

void Spinner::wipe() {
  if (!m_drawn) return;
  (void)sys::write_all(STDERR_FILENO, "\r\x1b[K");
  m_drawn = false;
}

void Spinner::spin() {
  static constexpr std::string_view k_braille[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
  static constexpr std::string_view k_ascii[] = {"|", "/", "-", "\\"};
  std::unique_lock lock(m_mutex);
  for (std::size_t frame = 0; !m_stop; ++frame) {
    m_wake.wait_for(lock, 100ms);
    auto now = Clock::now();
    // Only at the start of a line: "\r" must not wipe a partial line of output.
    if (m_stop || now - m_last_output < k_quiet_before_spinner || !m_line_start) continue;
    auto glyph = m_utf8 ? k_braille[frame % 10] : k_ascii[frame % 4];
    double seconds = std::chrono::duration<double>(now - m_started).count();
    (void)sys::write_all(STDERR_FILENO, fmt::format("\r\x1b[K{} {:.1f}s", glyph, seconds));
    m_drawn = true;
  }
}

} // namespace sandpit::repl
