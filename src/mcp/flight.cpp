#include "flight.hpp"

#include "sandpit/util/strings.hpp"

#include <cmath>
#include <fmt/format.h>
#include <unistd.h>

namespace sandpit::mcp {
namespace {

constexpr std::size_t k_max_message = 200; // characters of output a progress message quotes

std::string trimmed(std::string line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.size() > k_max_message) {
    line.resize(strings::complete_utf8_prefix(std::string_view(line).substr(0, k_max_message)));
    line += "...";
  }
  return line;
}

} // namespace

Flight::Flight(nlohmann::json id, std::optional<nlohmann::json> progress_token, ClientInfo client, std::string lane)
    : m_id(std::move(id)), m_token(std::move(progress_token)), m_client(std::move(client)), m_lane(std::move(lane)) {
  auto pipe = sys::make_pipe();
  if (!pipe) throw RpcError(code::internal_error, "Internal error: no pipe for the call: " + pipe.failure().message());
  m_cancel = std::move(pipe).value();
}

std::string Flight::cancel_reason() const {
  std::lock_guard lock(m_mutex);
  return m_reason;
}

void Flight::cancel(const std::string& reason) {
  {
    std::lock_guard lock(m_mutex);
    if (m_cancelled) return;
    m_reason = reason;
    m_cancelled = true;
  }
  m_cancel.second.reset(); // the read end sees EOF: readable from now on
}

void Flight::output(std::string_view text) {
  std::lock_guard lock(m_mutex);
  m_partial.append(text);
  std::size_t start = 0;
  for (auto newline = m_partial.find('\n'); newline != std::string::npos; newline = m_partial.find('\n', start)) {
    if (auto line = trimmed(m_partial.substr(start, newline - start)); !line.empty()) m_last_line = std::move(line);
    start = newline + 1;
  }
  m_partial.erase(0, start);
  if (m_partial.size() > 4096) { // a long line without an end: quote its start
    m_last_line = trimmed(m_partial);
    m_partial.clear();
  }
}

std::optional<nlohmann::json> Flight::progress_due(Clock::time_point now, std::chrono::milliseconds interval) {
  if (!m_token || m_cancelled || now - m_last_progress < interval) return std::nullopt;
  m_last_progress = now;
  m_sent_progress = true;
  const double elapsed = std::chrono::duration<double>(now - m_started).count();
  std::string message;
  {
    std::lock_guard lock(m_mutex);
    const auto& line = m_last_line.empty() ? trimmed(m_partial) : m_last_line;
    message = line.empty() ? fmt::format("running for {:.0f} s", elapsed) : fmt::format("running for {:.0f} s: {}", elapsed, line);
  }
  return nlohmann::json{{"jsonrpc", "2.0"},
                        {"method", "notifications/progress"},
                        {"params", {{"progressToken", *m_token}, {"progress", std::round(elapsed * 10) / 10}, {"message", message}}}};
}

} // namespace sandpit::mcp
