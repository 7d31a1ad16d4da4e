// filesystem.Filesystem: Stat, ListDir, MakeDir, Move, Remove and the watches, on files:: operations beneath the roots the daemon lends.
#include "envd.hpp"
#include "entry_info.hpp"
#include "file_call.hpp"
#include "watcher.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/ops.hpp"
#include "sandpit/session/admission.hpp"

#include <fmt/format.h>
#include <poll.h>

namespace sandpit::serve {
namespace {

using connect::Code;
using connect::RpcError;
using Clock = std::chrono::steady_clock;

constexpr std::size_t k_max_watchers = 64; // polling watchers a sandbox may hold

json stat_json(const files::Roots& roots, const files::HomePath& where) {
  try {
    return entry_info(files::stat_entry(roots, where.path), where.shown, roots, where.path);
  } catch (const files::FileError& e) {
    if (e.problem() == files::Problem::not_found) throw RpcError(Code::not_found, fmt::format("file not found: lstat {}: no such file or directory", where.shown));
    throw_rpc(e);
  }
}

json list(const files::Roots& roots, const json& message) {
  const auto where = rpc_path(connect::string_field(message, "path"));
  const auto depth = connect::int_field(message, "depth").value_or(1);
  json entries = json::array();
  try {
    for (const auto& entry : files::list_dir(roots, where.path, static_cast<unsigned>(std::clamp<std::int64_t>(depth, 1, 64)))) {
      const auto shown = (where.shown == "/" ? "" : where.shown) + "/" + entry.relative;
      entries.push_back(entry_info(entry, shown, roots, where.path.child(entry.relative)));
    }
  } catch (const files::FileError& e) {
    if (e.problem() == files::Problem::not_found) throw RpcError(Code::not_found, fmt::format("path not found: {}", where.shown));
    if (e.problem() == files::Problem::not_a_directory) throw RpcError(Code::invalid_argument, fmt::format("path is not a directory: {}", where.shown));
    throw_rpc(e);
  }
  return {{"entries", entries}};
}

// Streams the watched folder's events until the deadline, an error, or the client leaves.
void watch_stream(Watcher& watcher, const files::Roots& roots, const files::HomePath& where, bool include_entry, const http::Request& req,
                  http::Response& res) {
  connect::Stream stream(res);
  if (!stream.send({{"start", json::object()}})) return;
  const auto deadline = connect::timeout_ms(req);
  const auto started = Clock::now();
  auto last = Clock::now();
  const auto keepalive = std::chrono::seconds(50);
  while (true) {
    if (deadline && Clock::now() - started >= std::chrono::milliseconds(*deadline)) return stream.end(Code::deadline_exceeded, "context deadline exceeded");
    pollfd fds[2] = {{watcher.fd(), POLLIN, 0}, {res.socket(), POLLRDHUP, 0}};
    if (::poll(fds, 2, 500) < 0 && errno != EINTR) return stream.end(Code::internal, "watch failed");
    if ((fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) return;
    for (const auto& event : watcher.take()) {
      json fs_event = {{"name", event.name}, {"type", event.type}};
      if (include_entry && (event.type == "EVENT_TYPE_CREATE" || event.type == "EVENT_TYPE_WRITE" || event.type == "EVENT_TYPE_CHMOD")) {
        try {
          const auto path = where.path.child(event.name);
          fs_event["entry"] = entry_info(files::stat_entry(roots, path), where.shown + "/" + event.name, roots, path);
        } catch (const Error&) {
        }
      }
      if (!stream.send({{"filesystem", fs_event}})) return;
      last = Clock::now();
    }
    if (Clock::now() - last >= keepalive) {
      if (!stream.send({{"keepalive", json::object()}})) return;
      last = Clock::now();
    }
  }
}

std::shared_ptr<Watcher> make_watcher(const files::Roots& roots, const files::HomePath& where, bool recursive) {
  try {
    const auto entry = files::stat_entry(roots, where.path);
    if (!S_ISDIR(entry.st.st_mode)) throw RpcError(Code::invalid_argument, fmt::format("path {} not a directory", where.shown));
    auto dir = files::list_dir(roots, where.path, 1); // checks it can be opened beneath its root
    (void)dir;
  } catch (const files::FileError& e) {
    if (e.problem() == files::Problem::not_found) throw RpcError(Code::not_found, fmt::format("path {} not found", where.shown));
    throw_rpc(e);
  }
  auto fd = files::open_dir(roots, where.path);
  return std::make_shared<Watcher>(fd.get(), recursive);
}

} // namespace

files::HomePath rpc_path(const std::string& text) {
  try {
    return files::resolve_home_path(text, k_home);
  } catch (const files::FileError& e) {
    if (e.problem() == files::Problem::denied) throw RpcError(Code::permission_denied, e.subject() + ": " + e.reason());
    throw RpcError(Code::invalid_argument, e.subject() + ": " + e.reason());
  }
}

void throw_rpc(const files::FileError& e) {
  const auto message = e.subject() + ": " + e.reason();
  switch (e.problem()) {
  case files::Problem::not_found: throw RpcError(Code::not_found, message);
  case files::Problem::exists: throw RpcError(Code::already_exists, message);
  case files::Problem::not_a_directory:
  case files::Problem::is_a_directory:
  case files::Problem::invalid:
  case files::Problem::refused: throw RpcError(Code::invalid_argument, message);
  case files::Problem::denied: throw RpcError(Code::permission_denied, message);
  case files::Problem::no_space:
  case files::Problem::too_large: throw RpcError(Code::resource_exhausted, message);
  case files::Problem::failed: break;
  }
  throw RpcError(Code::internal, message);
}

void filesystem_service(Service& service, const std::shared_ptr<Sandbox>& sandbox, const std::string& method, http::Request& req, http::Response& res) {
  const auto message = connect::request_message(req);
  (void)rpc_user(req);
  const auto roots = service.sandboxes().roots(*sandbox);
  if (method == "Stat") return connect::unary_ok(res, {{"entry", stat_json(*roots, rpc_path(connect::string_field(message, "path")))}});
  if (method == "ListDir") return connect::unary_ok(res, list(*roots, message));
  if (method == "MakeDir") {
    const auto where = rpc_path(connect::string_field(message, "path"));
    // Each mutation is audited like a transfer, its intent before it touches the sandbox.
    FileCall call(service, *sandbox, req, "mkdir", {where.shown, ""});
    bool made = false;
    try {
      made = files::make_dir(*roots, where.path);
    } catch (const files::FileError& e) {
      call.done(nullptr, &e);
      if (e.problem() == files::Problem::exists) throw RpcError(Code::invalid_argument, fmt::format("path already exists but it is not a directory: {}", where.shown));
      throw_rpc(e);
    }
    if (!made) {
      call.refused("mkdir " + where.shown, "the directory already exists");
      throw RpcError(Code::already_exists, fmt::format("directory already exists: {}", where.shown));
    }
    call.done(nullptr, nullptr);
    return connect::unary_ok(res, {{"entry", stat_json(*roots, where)}});
  }
  if (method == "Move") {
    const auto from = rpc_path(connect::string_field(message, "source"));
    const auto to = rpc_path(connect::string_field(message, "destination"));
    FileCall call(service, *sandbox, req, "move", {from.shown, to.shown});
    try {
      files::move_entry(*roots, from.path, to.path);
    } catch (const files::FileError& e) {
      call.done(nullptr, &e);
      if (e.problem() == files::Problem::not_found) throw RpcError(Code::not_found, fmt::format("source file not found: {}", from.shown));
      throw_rpc(e);
    }
    call.done(nullptr, nullptr);
    return connect::unary_ok(res, {{"entry", stat_json(*roots, to)}});
  }
  if (method == "Remove") {
    const auto where = rpc_path(connect::string_field(message, "path"));
    FileCall call(service, *sandbox, req, "remove", {where.shown, ""});
    try {
      files::remove_entry(*roots, where.path);
    } catch (const files::FileError& e) {
      call.done(nullptr, &e);
      throw RpcError(Code::internal, fmt::format("error removing file or directory: {}", e.reason()));
    }
    call.done(nullptr, nullptr);
    return connect::unary_ok(res, json::object());
  }
  if (method == "WatchDir") {
    const auto where = rpc_path(connect::string_field(message, "path"));
    auto watcher = make_watcher(*roots, where, connect::bool_field(message, "recursive"));
    return watch_stream(*watcher, *roots, where, connect::bool_field(message, "includeEntry", "include_entry"), req, res);
  }
  if (method == "CreateWatcher") {
    const auto where = rpc_path(connect::string_field(message, "path"));
    auto watcher = make_watcher(*roots, where, connect::bool_field(message, "recursive"));
    const auto id = "w" + random_id(20);
    std::lock_guard lock(sandbox->mutex);
    auto& mine = sandbox->watchers;
    if (mine.size() >= k_max_watchers) throw RpcError(Code::resource_exhausted, fmt::format("a sandbox may hold at most {} watchers", k_max_watchers));
    mine[id] = watcher;
    return connect::unary_ok(res, {{"watcherId", id}});
  }
  if (method == "GetWatcherEvents" || method == "RemoveWatcher") {
    const auto id = connect::string_field(message, "watcherId", "watcher_id");
    std::shared_ptr<Watcher> watcher;
    {
      std::lock_guard lock(sandbox->mutex);
      auto& mine = sandbox->watchers;
      auto it = mine.find(id);
      if (it == mine.end()) throw RpcError(Code::not_found, fmt::format("watcher with id {} not found", id));
      watcher = it->second;
      if (method == "RemoveWatcher") mine.erase(it);
    }
    if (method == "RemoveWatcher") return connect::unary_ok(res, json::object());
    json events = json::array();
    for (const auto& e : watcher->take()) events.push_back({{"name", e.name}, {"type", e.type}});
    return connect::unary_ok(res, {{"events", events}});
  }
  throw RpcError(Code::unimplemented, fmt::format("filesystem.Filesystem/{} does not exist", method));
}

} // namespace sandpit::serve
