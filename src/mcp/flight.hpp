// Flight: one tools/call in progress — its id, its cancellation and the progress it reports.
#pragma once

#include "sandpit/mcp/server.hpp"
#include "sandpit/sys/fd.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>

namespace sandpit::mcp {

class Flight final : public Call {
public:
  using Clock = std::chrono::steady_clock;

  Flight(nlohmann::json id, std::optional<nlohmann::json> progress_token, ClientInfo client, std::string lane);

  const nlohmann::json& id() const { return m_id; }
  const std::string& lane() const { return m_lane; }

  int cancel_fd() const override { return m_cancel.first.get(); }
  bool cancelled() const override { return m_cancelled; }
  std::string cancel_reason() const override;
  void output(std::string_view text) override;
  ClientInfo client() const override { return m_client; }

  // Marks the call cancelled and makes cancel_fd() readable; the first reason wins.
  void cancel(const std::string& reason);
  // The notifications/progress message due at `now`, if the request asked for
  // progress and `interval` has passed since the last one (or since the start).
  std::optional<nlohmann::json> progress_due(Clock::time_point now, std::chrono::milliseconds interval);
  // When the last progress notification went out; nullopt before the first. Called under the server's lock, as progress_due is.
  std::optional<Clock::time_point> last_progress() const { return m_sent_progress ? std::optional(m_last_progress) : std::nullopt; }

private:
  nlohmann::json m_id;
  std::optional<nlohmann::json> m_token;
  ClientInfo m_client;
  std::string m_lane;
  sys::FdPair m_cancel;
  std::atomic<bool> m_cancelled{false};
  Clock::time_point m_started = Clock::now();
  Clock::time_point m_last_progress = m_started;
  bool m_sent_progress = false;

  mutable std::mutex m_mutex; // the fields below
  std::string m_reason;
  std::string m_partial;   // output since the last newline
  std::string m_last_line; // the last whole line
};

} // namespace sandpit::mcp
