// A pool sandbox lent to one --fresh run (pool.hpp: borrow): the client has recorded the run's intent in the
// audit log already and records its outcome; this side only runs the execution and streams it, as a daemon
// does, on the one connection.
#include "sandpit/session/pool.hpp"

#include "client_canceller.hpp"
#include "daemon_process.hpp"
#include "event_sink.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/session/protocol.hpp"
#include "sandpit/session/session.hpp"

#include <nlohmann/json.hpp>

namespace sandpit::session::pool {

void serve_lent_execution(Session& session, int fd) {
  protocol::LineReader reader(fd);
  auto line = reader.next();
  if (!line || !*line) return; // the client went away
  auto request = protocol::decode_request(**line);
  if (!request || request->type != protocol::RequestType::execute) {
    (void)protocol::send(fd, error_message("protocol", "a lent sandbox runs one execution", 2));
    return;
  }
  const auto& e = request->execute;
  auto language = kernels::parse_language(e.language);
  if (!language) {
    (void)protocol::send(fd, error_message("protocol", "unknown language " + e.language, 2));
    return;
  }
  ExecRequest exec{*language, e.code, e.filename, units::Millis(e.timeout_ms), e.context, e.env, e.cwd, e.packages};
  EventSink sink(fd);
  ClientCanceller canceller(fd, reader);
  try {
    auto result = session.execute(exec, sink, &canceller,
                                  [fd](int n) { (void)protocol::send(fd, {{"type", "started"}, {"execution_count", n}}); });
    sink.flush();
    auto object = to_json(result);
    object.erase("stdout");
    object.erase("stderr");
    (void)protocol::send(fd, {{"type", "result"}, {"result", object}});
  } catch (const Error& err) {
    (void)protocol::send(fd, error_message("setup", err.reason(), static_cast<int>(err.code()), err.subject()));
  } catch (const std::exception& err) {
    (void)protocol::send(fd, error_message("internal", err.what(), 125, "session"));
  }
}

} // namespace sandpit::session::pool
