#include "sandpit/mcp/server.hpp"

#include "flight.hpp"
#include "methods.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <fmt/format.h>
#include <system_error>
#include <thread>

namespace sandpit::mcp {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

json error_response(const json& id, const RpcError& e) {
  json error = {{"code", e.code()}, {"message", e.what()}};
  if (!e.data().is_null()) error["data"] = e.data();
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", error}};
}

bool is_request_id(const json& id) { return id.is_string() || id.is_number_integer(); }

// What one message is, once its envelope is known to be well formed.
enum class Kind { request, notification, response };

// Checks the JSON-RPC envelope. Throws RpcError(invalid_request); the id to answer with is set first.
Kind classify(const json& m, json& id) {
  id = nullptr;
  if (!m.is_object()) throw RpcError(code::invalid_request, "Invalid Request: a message must be a JSON object");
  if (m.contains("id") && is_request_id(m["id"])) id = m["id"];
  if (!m.contains("jsonrpc") || m["jsonrpc"] != "2.0") throw RpcError(code::invalid_request, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
  if (!m.contains("method")) {
    if (m.contains("result") || m.contains("error")) return Kind::response;
    throw RpcError(code::invalid_request, "Invalid Request: no \"method\"");
  }
  if (!m["method"].is_string()) throw RpcError(code::invalid_request, "Invalid Request: \"method\" must be a string");
  if (!m.contains("id")) return Kind::notification;
  if (!is_request_id(m["id"])) throw RpcError(code::invalid_request, "Invalid Request: \"id\" must be a string or an integer");
  return Kind::request;
}

constexpr auto k_progress_gap = std::chrono::milliseconds(50);
constexpr int k_max_depth = 64;            // nesting of arrays and objects in one message
constexpr std::size_t k_max_flights = 64;  // tool calls running or waiting at once

// Whether `text` nests arrays and objects deeper than k_max_depth (outside strings).
// Checked before parsing: copying or printing a value nested 60,000 deep recurses off the stack.
bool too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > k_max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

bool is_tool_call(const json& m) {
  return m.is_object() && m.value("method", json()) == "tools/call" && m.contains("id") && is_request_id(m["id"]);
}

} // namespace

std::string ClientInfo::text() const { return version.empty() ? name : name + " " + version; }

struct Server::State {
  State(Tools& t, Transport& tr, ServerOptions o) : tools(t), transport(tr), options(o), methods(t) {}

  Tools& tools;
  Transport& transport;
  ServerOptions options;
  Methods methods;

  std::mutex send_mutex;
  std::mutex mutex; // everything below
  std::condition_variable changed;
  std::map<std::string, std::shared_ptr<Flight>> flights; // tool calls in flight, by id.dump()
  std::map<std::string, std::deque<const Flight*>> lanes;  // each lane's calls, in arrival order
  int workers = 0;
  bool closing = false;
  std::thread ticker;

  void send(const json& message) {
    auto text = message.dump(-1, ' ', false, json::error_handler_t::replace);
    std::lock_guard lock(send_mutex);
    transport.send(text);
  }

  // Registers a tool call before its thread starts, so a cancellation that comes right after finds it.
  // Throws RpcError for an id already in flight or when too many calls are.
  std::shared_ptr<Flight> enlist(const json& m) {
    const json& id = m["id"];
    std::optional<json> token;
    if (m.contains("params") && m["params"].is_object() && m["params"].contains("_meta") && m["params"]["_meta"].is_object()) {
      const auto& meta = m["params"]["_meta"];
      if (meta.contains("progressToken") && is_request_id(meta["progressToken"])) token = meta["progressToken"];
    }
    const json params = m.contains("params") ? m["params"] : json::object();
    std::string lane;
    if (params.is_object() && params.contains("name") && params["name"].is_string()) {
      try {
        lane = tools.lane(params["name"].get<std::string>(), params.contains("arguments") ? params["arguments"] : json::object());
      } catch (const std::exception&) {
        // Arguments it cannot read: the call fails its own checks in the default lane.
      }
    }
    std::lock_guard lock(mutex);
    if (flights.count(id.dump()) != 0) {
      throw RpcError(code::invalid_request, "Invalid Request: id " + id.dump() + " is already in use by a call in flight");
    }
    if (flights.size() >= k_max_flights) {
      throw RpcError(code::server_busy, fmt::format("Server busy: {} tool calls are already running or waiting; retry when one ends", k_max_flights));
    }
    auto flight = std::make_shared<Flight>(id, token, methods.client_for(params), lane);
    flights[id.dump()] = flight;
    lanes[lane].push_back(flight.get());
    return flight;
  }

  // Takes back an enlisted call whose thread could not start.
  void forget(const std::shared_ptr<Flight>& flight) {
    if (!flight) return;
    {
      std::lock_guard lock(mutex);
      flights.erase(flight->id().dump());
    }
    leave_lane(*flight);
  }

  // Waits until `flight` is first in its lane. False when it was cancelled meanwhile: it must not run.
  bool wait_turn(const Flight& flight) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return flight.cancelled() || lanes[flight.lane()].front() == &flight; });
    return !flight.cancelled();
  }

  void leave_lane(const Flight& flight) {
    std::lock_guard lock(mutex);
    auto& lane = lanes[flight.lane()];
    lane.erase(std::remove(lane.begin(), lane.end(), &flight), lane.end());
    if (lane.empty()) lanes.erase(flight.lane());
    changed.notify_all();
  }

  // Whether the answer should go out: a cancelled call gets none. Clients
  // handle a progress notification one step after a response that arrived in the
  // same read, and drop it as unknown: the answer keeps a short distance from the last one.
  bool land(const std::shared_ptr<Flight>& flight) {
    std::optional<Clock::time_point> last;
    {
      std::lock_guard lock(mutex);
      flights.erase(flight->id().dump());
      if (flight->cancelled()) return false;
      last = flight->last_progress();
    }
    if (!last) return true;
    if (auto since = Clock::now() - *last; since < k_progress_gap) std::this_thread::sleep_for(k_progress_gap - since);
    return true;
  }

  // The response to one message, or nothing (a notification, a response, a cancelled call).
  std::optional<json> handle(const json& m, const std::shared_ptr<Flight>& flight) {
    json id;
    try {
      const auto kind = classify(m, id);
      if (kind == Kind::response) return std::nullopt;
      const auto method = m["method"].get<std::string>();
      const json params = m.contains("params") ? m["params"] : json::object();
      if (kind == Kind::notification) {
        notify(method, params);
        return std::nullopt;
      }
      if (method == "tools/call") {
        if (!flight) throw RpcError(code::internal_error, "Internal error: the call was not registered");
        struct Leave {
          State& s;
          const Flight& f;
          ~Leave() { s.leave_lane(f); }
        } leave{*this, *flight};
        if (!wait_turn(*flight)) {
          land(flight);
          return std::nullopt;
        }
        auto result = methods.call_tool(params, *flight);
        if (!land(flight)) return std::nullopt;
        return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
      }
      return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", methods.answer(method, params)}};
    } catch (const RpcError& e) {
      if (flight && !land(flight)) return std::nullopt;
      return error_response(id, e);
    } catch (const std::exception& e) {
      if (flight && !land(flight)) return std::nullopt;
      return error_response(id, RpcError(code::internal_error, std::string("Internal error: ") + e.what()));
    }
  }

  void notify(const std::string& method, const json& params) {
    if (method != "notifications/cancelled" || !params.is_object() || !params.contains("requestId")) return;
    std::string reason = params.contains("reason") && params["reason"].is_string() ? params["reason"].get<std::string>() : "";
    std::lock_guard lock(mutex);
    if (auto it = flights.find(params["requestId"].dump()); it != flights.end()) {
      it->second->cancel("cancelled by the client" + (reason.empty() ? std::string() : ": " + reason));
      changed.notify_all(); // it may be waiting for its turn
    }
  }

  // Runs `work` on a thread of its own, counted so close() can wait for it.
  // False when no thread could be made (RLIMIT_NPROC, a pids cgroup, memory).
  bool spawn(std::function<void()> work) {
    {
      std::lock_guard lock(mutex);
      ++workers;
    }
    try {
      std::thread([this, work = std::move(work)] {
        work();
        std::lock_guard lock(mutex);
        --workers;
        changed.notify_all();
      }).detach();
      return true;
    } catch (const std::system_error&) {
      std::lock_guard lock(mutex);
      --workers;
      changed.notify_all();
      return false;
    }
  }

  // Progress for every call that asked for it, at most options.progress_interval apart.
  void tick() {
    std::unique_lock lock(mutex);
    const auto step = std::min(options.progress_interval, std::chrono::milliseconds(250));
    while (!closing) {
      changed.wait_for(lock, step);
      std::vector<std::pair<std::shared_ptr<Flight>, json>> due;
      for (auto& [key, flight] : flights) {
        if (auto note = flight->progress_due(Clock::now(), options.progress_interval)) due.emplace_back(flight, std::move(*note));
      }
      if (due.empty()) continue;
      // Written without the lock, so a client that stops reading cannot stall cancellation or new
      // calls. Under send_mutex a note goes out only while its call is still in flight: an answer
      // leaves the map before it is sent, so no note can follow it.
      lock.unlock();
      {
        std::lock_guard ordered(send_mutex);
        for (const auto& [flight, note] : due) {
          bool live = false;
          {
            std::lock_guard again(mutex);
            auto it = flights.find(flight->id().dump());
            live = it != flights.end() && it->second == flight;
          }
          if (live) transport.send(note.dump(-1, ' ', false, json::error_handler_t::replace));
        }
      }
      lock.lock();
    }
  }
};

Server::Server(Tools& tools, Transport& transport, ServerOptions options)
    : m_state(std::make_unique<State>(tools, transport, options)) {
  m_state->ticker = std::thread([s = m_state.get()] { s->tick(); });
}

Server::~Server() {
  close();
  std::unique_lock lock(m_state->mutex);
  m_state->changed.wait(lock, [&] { return m_state->workers == 0; });
}

void Server::receive(std::string_view line) {
  auto& s = *m_state;
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
  if (too_deep(line)) {
    s.send(error_response(nullptr, RpcError(code::invalid_request, fmt::format("Invalid Request: nested deeper than {} levels", k_max_depth))));
    return;
  }
  json m = json::parse(line, nullptr, false);
  if (m.is_discarded()) {
    s.send(error_response(nullptr, RpcError(code::parse_error, "Parse error: not a JSON text")));
    return;
  }
  if (m.is_array()) {
    if (m.empty()) {
      s.send(error_response(nullptr, RpcError(code::invalid_request, "Invalid Request: an empty batch")));
      return;
    }
    std::vector<std::shared_ptr<Flight>> flights;
    std::vector<bool> skipped;
    json refused = json::array(); // elements answered at once: a duplicate id, too many calls
    for (const auto& element : m) {
      std::shared_ptr<Flight> flight;
      bool skip = false;
      if (is_tool_call(element)) {
        try {
          flight = s.enlist(element);
        } catch (const RpcError& e) {
          refused.push_back(error_response(e.code() == code::invalid_request ? json(nullptr) : element["id"], e));
          skip = true;
        }
      }
      flights.push_back(flight);
      skipped.push_back(skip);
    }
    auto work = [&s, m, flights, skipped, refused]() mutable {
      json answers = std::move(refused);
      for (std::size_t i = 0; i < m.size(); ++i) {
        if (skipped[i]) continue;
        if (auto answer = s.handle(m[i], flights[i])) answers.push_back(std::move(*answer));
      }
      if (!answers.empty()) s.send(answers);
    };
    if (!s.spawn(work)) {
      for (const auto& flight : flights) s.forget(flight);
      s.send(error_response(nullptr, RpcError(code::internal_error, "Internal error: no thread for the batch (too many processes or threads)")));
    }
    return;
  }
  if (is_tool_call(m)) {
    std::shared_ptr<Flight> flight;
    try {
      flight = s.enlist(m);
    } catch (const RpcError& e) {
      // A duplicate's own id would also match the call in flight: the answer names it in its message instead.
      s.send(error_response(e.code() == code::invalid_request ? json(nullptr) : m["id"], e));
      return;
    }
    const json id = m["id"];
    if (!s.spawn([&s, m = std::move(m), flight] {
          if (auto answer = s.handle(m, flight)) s.send(*answer);
        })) {
      s.forget(flight);
      s.send(error_response(id, RpcError(code::internal_error, "Internal error: no thread for the call (too many processes or threads)")));
    }
    return;
  }
  if (auto answer = s.handle(m, nullptr)) s.send(*answer);
}

bool Server::close() {
  auto& s = *m_state;
  std::unique_lock lock(s.mutex);
  if (!s.closing) {
    // Calls that finish soon still answer (a piped transcript ends with EOF right after its last request).
    s.changed.wait_for(lock, s.options.drain, [&] { return s.workers == 0; });
    s.closing = true;
    for (auto& [key, flight] : s.flights) flight->cancel("the client closed its input");
    s.changed.notify_all();
  }
  lock.unlock();
  if (s.ticker.joinable()) s.ticker.join();
  lock.lock();
  return s.changed.wait_for(lock, s.options.cancel_grace, [&] { return s.workers == 0; });
}

} // namespace sandpit::mcp
