// The client-daemon protocol: newline-delimited JSON over a unix socket, a closed set of requests, each validated and size-bounded.
#pragma once

#include "sandpit/util/result.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sandpit::session::protocol {

// Bumped whenever a request or reply changes shape. A client and a daemon of
// different versions refuse each other with a message that says what to run.
inline constexpr int k_version = 5;
// Longest line either side accepts (a cell of code fits well within it).
inline constexpr std::size_t k_max_line = 16u << 20;
inline constexpr std::size_t k_max_code = 8u << 20;

enum class RequestType {
  hello, execute, check, interrupt, info, restart, reset, shutdown,
  // Commands beside the kernels (protocol 5, for sandpit serve's E2B process API).
  process_start, process_connect, process_list, process_input, process_close_stdin, process_signal,
  // The sandbox's /workspace, /persist and /tmp as the jail sees them, passed as fds (protocol 5).
  roots
};

struct Execute {
  std::string language; // "python" | "javascript" | "typescript" | "bash" (already resolved from aliases)
  std::string code;
  std::string filename = "<cell>";
  std::int64_t timeout_ms = 30'000;
  bool wait = true; // false: answer "busy" instead of queueing behind another execution
  // For the audit record the daemon writes: who asked, through which command.
  std::string user;
  std::string command = "exec"; // "exec" | "shell" | "repl" | "mcp" | "serve"
  std::string client;           // mcp: the client's "name version"; serve: the SDK's user agent
  // Protocol 5: a kernel of its own ("" for the session's), variables for this
  // execution only, and where a new context's kernel (or a shell) starts.
  std::string context;
  std::map<std::string, std::string> env;
  std::string cwd;
  std::vector<std::string> packages; // installed before the code runs
};

// A command beside the kernels, or the process a process_* request names
// (by pid, or by tag when pid is -1).
struct Process {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string cwd;
  bool stdin_pipe = false;
  std::string tag;
  std::int64_t timeout_ms = 0; // 0: none
  int pid = -1;
  std::string data; // process_input: the bytes (base64 on the wire)
  int signal = 0;   // process_signal
};

struct Request {
  RequestType type = RequestType::info;
  int protocol = 0;       // hello
  std::string client;     // hello: "sandpit 0.1.0"
  Execute execute;        // execute; check uses its language and code
  std::string reason;     // interrupt: why, for the audit record ("" for Ctrl-C; "cancelled by the client: ...")
  std::string context;    // restart: only this context's kernels (protocol 5)
  std::string language;   // restart with a context: only that language's kernel of it
  Process process;        // process_*; process_start's caller is in `execute` (user, command, client)
};

// Decodes one line (without its newline). Anything outside the closed set of
// requests, with a missing, extra or mistyped field, is a Failure saying what.
Result<Request> decode_request(std::string_view line);

nlohmann::json encode(const Request& request);
std::string_view type_name(RequestType type);

// Reads newline-delimited messages from a stream socket, refusing lines longer than k_max_line.
class LineReader {
public:
  explicit LineReader(int fd, std::size_t max_line = k_max_line) : m_fd(fd), m_max(max_line) {}
  // Blocks for the next line. nullopt at EOF; Failure on a read error or an overlong line.
  Result<std::optional<std::string>> next();
  // Takes what is readable now without blocking. nullopt: nothing whole yet.
  Result<std::optional<std::string>> poll_next();
  bool eof() const { return m_eof; }

private:
  Result<bool> fill(bool blocking);
  std::optional<std::string> take_line();

  int m_fd;
  std::size_t m_max;
  std::string m_buffer;
  bool m_eof = false;
};

// Writes one message and its newline.
Result<void> send(int fd, const nlohmann::json& message);

} // namespace sandpit::session::protocol
