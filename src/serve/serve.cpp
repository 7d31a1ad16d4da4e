#include "sandpit/serve/serve.hpp"

#include "http.hpp"
#include "service.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/policy/policy.hpp"
#include "sandpit/sys/fd.hpp"

#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <thread>
#include <unistd.h>

namespace sandpit::serve {
namespace {

struct Listen {
  std::string host;
  std::uint16_t port = 0;
};

Listen parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw Error(ExitCode::usage, "--listen " + text, "expected HOST:PORT, e.g. 127.0.0.1:49982");
  Listen out;
  out.host = text.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') out.host = out.host.substr(1, out.host.size() - 2);
  const auto port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    throw Error(ExitCode::usage, "--listen " + text, "the port must be a number from 0 to 65535");
  }
  out.port = static_cast<std::uint16_t>(std::stoul(port));
  return out;
}

bool is_loopback(const std::string& host) { return host == "::1" || host.rfind("127.", 0) == 0 || host == "localhost"; }

// The user's own key, made once and kept 0600 in the state folder.
std::string own_key() {
  const auto path = state_home() / "serve" / "api_key";
  if (auto text = sys::read_file(path.string()); text && text->size() >= 44) return text->substr(0, text->find('\n'));
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  fs::permissions(path.parent_path(), fs::perms::owner_all, ec);
  const auto key = "e2b_" + random_hex(20);
  const auto tmp = path.string() + ".new";
  sys::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid() || !sys::write_all(fd.get(), key + "\n") || ::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Error(ExitCode::sandbox_setup, "write " + path.string(), std::strerror(errno));
  }
  return key;
}

} // namespace

int run_serve(const config::Config& config, const ServeOptions& options) {
  const auto listen = parse_listen(options.listen);
  const auto me = policy::identify(config).user;
  std::map<std::string, std::string> keys = config.serve_api_keys;
  std::string shown_key;
  if (keys.empty()) {
    shown_key = own_key();
    keys[shown_key] = me;
  } else {
    for (const auto& [key, who] : keys) {
      if (who == me && shown_key.empty()) shown_key = key;
    }
  }
  // Every thread inherits this mask: SIGINT and SIGTERM reach only the sigwait below,
  // never an execution's thread (whose interrupts are the client's, not ours).
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stops, nullptr);

  // What an earlier server killed with SIGKILL left: its sandboxes' runs are recorded, their folders cleared.
  for (const auto& notice : sweep_leftover_sandboxes(config, options.config_file)) fmt::print(stderr, "sandpit serve: {}\n", notice);
  Service service(config, options.config_file, std::move(keys));
  http::ServerOptions server_options;
  server_options.host = listen.host;
  server_options.port = listen.port;
  server_options.max_connections = config.serve_max_connections;
  server_options.body.spool = [](std::string_view method, std::string_view path) { return method == "POST" && path == "/files"; };
  server_options.body.max_spooled = config.limits.transfer + (1u << 20); // the multipart framing around a file at the limit
  server_options.body.spool_dir = service.spool_dir();
  http::Server server(server_options, [&service](http::Request& req, http::Response& res) { service.handle(req, res); });

  const auto host = server.host();
  const auto url = fmt::format("http://{}:{}", host.find(':') != std::string::npos ? "[" + host + "]" : host, server.port());
  fmt::print("export E2B_API_URL={}\nexport E2B_SANDBOX_URL={}\nexport E2B_API_KEY={}\n", url, url, shown_key);
  std::fflush(stdout);
  if (!is_loopback(listen.host)) {
    fmt::print(stderr, "sandpit serve: listening on {} beyond this machine: traffic is plain HTTP (API keys and code included); "
                       "put a TLS-terminating proxy in front of it\n", host);
  }
  if (shown_key.empty()) fmt::print(stderr, "sandpit serve: serve.api_keys holds no key for {}: clients need one of the configured keys\n", me);
  fmt::print(stderr, "sandpit serve: listening on {} (E2B API and sandbox traffic on one port); Ctrl-C stops it and its sandboxes\n", url);

  std::thread serving([&server] { server.run(); });
  int sig = 0;
  ::sigwait(&stops, &sig);
  fmt::print(stderr, "sandpit serve: {}: stopping\n", sig == SIGINT ? "interrupted" : "terminated");
  server.stop();
  serving.join();
  service.sandboxes().kill_all();
  return 0;
}

} // namespace sandpit::serve
