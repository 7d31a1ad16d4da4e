// The daemon's process_* requests: commands beside the kernels, streamed to the client that started or attached to them.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/session/protocol.hpp"
#include "sandpit/session/session.hpp"

#include <atomic>

namespace sandpit::session {

// `what` and `message` become the client's `sandpit: <what>: <message>`.
inline nlohmann::json error_message(std::string_view code, const std::string& message, int exit_code, const std::string& what = "session") {
  return {{"type", "error"}, {"code", code}, {"what", what}, {"message", message}, {"exit_code", exit_code}};
}

// Answers one process_* request on `fd`. process_start and process_connect
// stream the process's events on the connection until it ends (or the
// client goes away: the process keeps running) and return then.
void serve_process_request(Session& session, const config::Config& config, const Workspace& workspace, int fd,
                           protocol::LineReader& reader, const protocol::Request& request, const std::atomic<bool>& stopping);

} // namespace sandpit::session
