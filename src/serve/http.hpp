// The HTTP/1.1 layer of `sandpit serve` (Boost.Beast underneath, invisible above): requests in, plain, file and streamed responses out.
#pragma once

#include "sandpit/sys/fd.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sandpit::serve::http {

// Header names compare without case; request headers are stored lowercased.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;                        // "GET"
  std::string target;                        // as sent: "/files?path=a%20b"
  std::string path;                          // decoded, without the query: "/files"
  std::map<std::string, std::string> query;  // decoded; the first of repeated names
  std::map<std::string, std::string> headers; // lowercased names; repeated ones joined with ", "
  std::string body;                          // small bodies
  sys::Fd body_file;                         // a large body (an upload), spooled to an unlinked file, at offset 0
  std::uint64_t body_size = 0;
  std::string peer;                          // "127.0.0.1:53412"

  // The header's value, or "" (name in any case).
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // The query parameter's value, or "".
  std::string param(const std::string& name) const;
  bool has_param(const std::string& name) const { return query.contains(name); }
};

// How a handler answers. Exactly one of send/send_file/begin_stream; after
// begin_stream, write() chunks and finish(). A handler that answers nothing gets a 500.
class Response {
public:
  virtual ~Response() = default;
  virtual void send(int status, Headers headers, std::string body) = 0;
  // `size` bytes from `fd` (its current offset), with Content-Length.
  virtual void send_file(int status, Headers headers, int fd, std::uint64_t size) = 0;
  // Chunked: the headers go out at once (clients time the request until then).
  virtual void begin_stream(int status, Headers headers) = 0;
  // One chunk, flushed. false once the client has gone.
  virtual bool write(std::string_view data) = 0;
  virtual void finish() = 0;
  // Whether the client hung up (or sent more than asked), waiting at most `timeout_ms`.
  virtual bool client_gone(int timeout_ms = 0) = 0;
  // The connection's socket, for a handler that polls it beside its own fds.
  virtual int socket() const = 0;
  virtual bool answered() const = 0;
};

using Handler = std::function<void(Request&, Response&)>;
// Whether a request's body should be spooled to a file rather than held in memory
// (uploads), given its method and path; and the largest body such requests may carry.
struct BodyRules {
  std::function<bool(std::string_view method, std::string_view path)> spool;
  std::uint64_t max_spooled = 1ull << 30;
  std::uint64_t max_in_memory = 32ull << 20;
  std::string spool_dir; // where spooled bodies go (an O_TMPFILE there)
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 49982;
  std::size_t max_connections = 256;
  int header_timeout_s = 30; // a request's head must arrive within this
  int idle_timeout_s = 75;   // a kept-alive connection with no request is closed after this
  std::size_t max_header_bytes = 64 * 1024;
  BodyRules body;
};

class Server {
public:
  // Binds and listens (port 0 picks one). Throws Error(usage) when it cannot.
  Server(ServerOptions options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::string host() const;
  std::uint16_t port() const;
  // Serves until stop(); each connection on a thread of its own, at most max_connections.
  void run();
  // From any thread (or a signal-driven loop): stop accepting, close idle connections, wait for the rest.
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// "a%20b+c" -> "a b c" (form decoding: '+' is a space); nullopt-free: bad escapes stay as they are.
std::string decode_component(std::string_view text, bool plus_is_space);
std::map<std::string, std::string> parse_query(std::string_view query);
std::string reason_phrase(int status);

} // namespace sandpit::serve::http
