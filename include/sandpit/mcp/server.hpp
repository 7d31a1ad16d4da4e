// The Model Context Protocol server: JSON-RPC 2.0 lines, both protocol eras, each tool call on a thread of its own.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::mcp {

// A JSON-RPC error the server answers with (code, message, optional data).
class RpcError : public std::runtime_error {
public:
  RpcError(int code, const std::string& message, nlohmann::json data = nullptr)
      : std::runtime_error(message), m_code(code), m_data(std::move(data)) {}
  int code() const { return m_code; }
  const nlohmann::json& data() const { return m_data; }

private:
  int m_code;
  nlohmann::json m_data;
};

namespace code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
inline constexpr int unsupported_protocol_version = -32022; // the 2026-07-28 era
inline constexpr int server_busy = -32000;                  // implementation-defined: too many calls in flight
} // namespace code

// Who is calling, as the client said (initialize's clientInfo, or a request's _meta).
struct ClientInfo {
  std::string name;
  std::string version;
  std::string text() const; // "claude-code 2.1.0", "" when unknown
};

// What a running tool call can see of its request and say while it runs.
class Call {
public:
  virtual ~Call() = default;
  // Becomes readable once the client cancels the call (or the server is closing).
  virtual int cancel_fd() const = 0;
  virtual bool cancelled() const = 0;
  // Why, for the audit record: "cancelled by the client: <reason>".
  virtual std::string cancel_reason() const = 0;
  // Output as it arrives; the last line goes into progress notifications.
  virtual void output(std::string_view text) = 0;
  virtual ClientInfo client() const = 0;
};

// The tools the server offers: the seam between the protocol and sandpit.
class Tools {
public:
  virtual ~Tools() = default;
  // The "tools" array of a tools/list result.
  virtual nlohmann::json list() const = 0;
  // A CallToolResult ({content, isError, ...}). Throws RpcError(invalid_params)
  // for an unknown tool; a tool that fails returns isError, never throws.
  virtual nlohmann::json call(const std::string& name, const nlohmann::json& arguments, Call& call) = 0;
  // Calls in the same lane run one at a time, in the order they arrived (a session's
  // cells must not overtake each other); calls in different lanes run side by side.
  virtual std::string lane(const std::string& name, const nlohmann::json& arguments) const = 0;
};

// Where the server's messages go: one JSON text per call, without a newline.
class Transport {
public:
  virtual ~Transport() = default;
  virtual void send(const std::string& message) = 0;
};

struct ServerOptions {
  std::chrono::milliseconds progress_interval{2000}; // at most this long between progress notifications
  std::chrono::milliseconds drain{1200};             // close(): how long calls may go on to finish and answer
  std::chrono::milliseconds cancel_grace{600};       // close(): then, how long cancelled calls have to stop
};

// The protocol side. receive() is called from one thread, line by line; it
// answers most requests at once and runs tools/call (and batches) on threads
// of their own, so a cancellation can reach a call that is running.
class Server {
public:
  Server(Tools& tools, Transport& transport, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // One line of input: a request, a notification, a response or a batch.
  void receive(std::string_view line);
  // End of input: lets running calls finish for up to `drain`, then cancels the
  // rest and waits up to `cancel_grace`. Returns false when a call is still running.
  bool close();

private:
  struct State;
  std::unique_ptr<State> m_state;
};

// The protocol revisions this server speaks, newest first.
const std::vector<std::string>& handshake_versions(); // initialize era: 2025-11-25 ... 2024-11-05
const std::vector<std::string>& modern_versions();    // server/discover era: 2026-07-28

} // namespace sandpit::mcp

namespace sandpit::mcp {

// Longest input line: an upload_file call carries its file as base64 inside one.
inline constexpr std::size_t k_max_input_line = 64u << 20;

// Serves MCP on newline-delimited JSON until `in_fd` reaches EOF, then cancels
// what is still running. Returns false when a call did not stop within the grace.
bool serve_lines(Tools& tools, int in_fd, int out_fd, ServerOptions options = {});

} // namespace sandpit::mcp
