// `sandpit session list|info|stop|restart|reset|pool`: the workspace session daemons, and the warm pool.
#include "commands.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/quota.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/session/admission.hpp"
#include "sandpit/session/audit_trail.hpp"
#include "sandpit/session/client.hpp"
#include "sandpit/session/pool.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/strings.hpp"
#include "sandpit/util/terminal.hpp"
#include "sandpit/util/units.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <fmt/format.h>
#include <thread>
#include <unistd.h>

namespace sandpit::cli {
namespace {

using nlohmann::json;
using session::protocol::RequestType;

std::string kernels_text(const json& info) {
  std::vector<std::string> names;
  for (const auto& k : info.value("kernels", json::array())) names.push_back(k.value("language", "?"));
  return names.empty() ? "-" : fmt::format("{}", fmt::join(names, ","));
}

std::string memory_text(std::uint64_t bytes) {
  if (bytes == 0) return "-";
  return fmt::format("{:.1f}MiB", static_cast<double>(bytes) / (1 << 20));
}

std::string uptime_text(double seconds) {
  auto s = static_cast<long>(seconds);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

// Every workspace whose daemon answers, without starting any.
std::vector<json> running_sessions() {
  std::vector<json> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(state_home() / "workspaces", ec)) {
    if (!fs::exists(entry.path() / "socket", ec)) continue;
    Workspace ws;
    ws.state_dir = entry.path();
    ws.files_dir = entry.path() / "files";
    ws.id = entry.path().filename().string();
    try {
      auto client = session::Client::connect(ws, "", session::Start::no);
      if (client) out.push_back(client->call(RequestType::info));
    } catch (const Error&) {
      // a stale socket: nobody there
    }
  }
  return out;
}

// The table's width with a short kernel list; narrower terminals get a block per session.
constexpr std::size_t k_list_width = 100;

// A path cut to `width` columns from the left ("…/proj/ws"): its end tells workspaces apart.
std::string tail(const std::string& path, std::size_t width) {
  if (strings::columns(path) <= width) return path;
  std::size_t keep = width - 1, at = path.size();
  while (at > 0 && keep > 0) {
    --at;
    if ((static_cast<unsigned char>(path[at]) & 0xC0) != 0x80) --keep;
  }
  return "…" + path.substr(at);
}

class SessionCommand final : public Command {
public:
  std::string_view name() const override { return "session"; }
  std::string_view summary() const override { return "List, inspect, stop, restart or reset workspace sessions"; }

  void add_to(CLI::App& app) override {
    app.add_option("action", m_action,
                   "list, info, stop, restart (drops interpreter state), reset (also wipes /workspace), or pool (the ready sandboxes)")
        ->required()
        // The description names the actions: the validator's own {a,b,...} would not fit a narrow terminal.
        ->check(CLI::IsMember({"list", "info", "stop", "restart", "reset", "pool"}).description(""))
        ->type_name("ACTION");
    app.add_option("-w,--workspace", m_workspace, "Workspace directory (default: $SANDPIT_WORKSPACE or .)")->type_name("DIR");
    app.add_flag("--json", m_json, "Print JSON");
    app.add_flag("--wait", m_wait, "pool: fill the pool and wait until it is full");
    app.add_flag("--drain", m_drain, "pool: stop every ready sandbox");
  }

  ExitCode run(Context& context) override {
    if (m_action == "list") return list();
    if (m_action == "pool") return pool(context);
    if (m_wait || m_drain) throw Error(ExitCode::usage, m_wait ? "--wait" : "--drain", "only with 'session pool'");
    auto workspace = Workspace::resolve(m_workspace);
    auto client = session::Client::connect(workspace, context.config_file, session::Start::no);
    if (m_action == "info") {
      json info = client ? client->call(RequestType::info) : json{{"type", "info"}, {"session", nullptr}, {"workspace", workspace.host_dir.string()}};
      print_info(info, client.has_value());
      return ExitCode::success;
    }
    if (m_action == "reset") {
      reset(context.config(), workspace, client ? &*client : nullptr);
    } else if (client) {
      auto type = m_action == "stop" ? RequestType::shutdown : RequestType::restart;
      const pid_t pid = client->hello().value("pid", 0);
      client->call(type);
      if (type == RequestType::shutdown) wait_gone(pid);
    }
    if (m_json) fmt::print("{}\n", json{{"action", m_action}, {"workspace", workspace.host_dir.string()}, {"was_running", client.has_value()}}.dump());
    else if (!client && m_action != "reset") fmt::print("no session is running for {}\n", workspace.host_dir.string());
    return ExitCode::success;
  }

private:
  // Wipes /workspace (through the daemon when one runs: it also ends the session's
  // processes), recorded intent-first as the command "reset".
  static void reset(const config::Config& config, const Workspace& workspace, session::Client* client) {
    audit::Record record;
    record.user = session::caller_for(config, "reset").user;
    record.workspace = workspace.host_dir.string();
    record.command = "reset";
    session::AuditedAction action(config, workspace, record);
    try {
      if (client != nullptr) {
        client->call(RequestType::reset);
      } else {
        // No daemon: wiping the files is all there is to do.
        files::enter_quota_mounts(config, workspace);
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(workspace.files_dir, ec)) fs::remove_all(entry.path(), ec);
      }
    } catch (const Error& e) {
      record.exit_code = static_cast<int>(e.code());
      record.error = e.subject() + ": " + e.reason();
      (void)action.complete(record);
      throw;
    }
    record.success = true;
    if (auto warning = action.complete(record); !warning.empty()) fmt::print(stderr, "sandpit: {}\n", warning);
  }

  ExitCode list() const {
    auto sessions = running_sessions();
    if (m_json) {
      fmt::print("{}\n", json(sessions).dump());
      return ExitCode::success;
    }
    if (const auto width = terminal_columns(STDOUT_FILENO); width != 0 && width < k_list_width) {
      // A narrow terminal: the workspace on a line of its own, its figures below.
      for (const auto& s : sessions) {
        fmt::print("{}\n{}", tail(s.value("workspace", "?"), width),
                   strings::flow({fmt::format("pid {}", s.value("pid", 0)), "up " + uptime_text(s.value("uptime_s", 0.0)),
                                  memory_text(s.value("memory_bytes", std::uint64_t{0})), fmt::format("{} runs", s.value("execution_count", 0)),
                                  kernels_text(s)},
                                 width, "  "));
      }
      return ExitCode::success;
    }
    fmt::print("{:<40} {:>8} {:>9} {:>9} {:>6}  {}\n", "WORKSPACE", "PID", "UPTIME", "MEMORY", "RUNS", "KERNELS");
    for (const auto& s : sessions) {
      fmt::print("{:<40} {:>8} {:>9} {:>9} {:>6}  {}\n", s.value("workspace", "?"), s.value("pid", 0), uptime_text(s.value("uptime_s", 0.0)),
                 memory_text(s.value("memory_bytes", std::uint64_t{0})), s.value("execution_count", 0), kernels_text(s));
    }
    return ExitCode::success;
  }

  ExitCode pool(Context& context) const {
    const auto& config = context.config();
    const session::pool::Shape shape; // the CLI's sandboxes (serve's have a home of their own)
    std::uint64_t drained = 0;
    if (m_drain) drained = session::pool::drain();
    else session::pool::request_fill(config, context.config_file, shape);
    auto now = session::pool::status(config, shape);
    for (int i = 0; m_wait && now.ready < config.pool && i < 3000; ++i) {
      if (i % 50 == 49) session::pool::request_fill(config, context.config_file, shape); // a slot that failed to start: try again
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      now = session::pool::status(config, shape);
    }
    if (m_wait && now.ready < config.pool) {
      throw Error(ExitCode::sandbox_setup, "session pool", fmt::format("{} of {} sandboxes ready after 5 minutes (see {})", now.ready, config.pool,
                                                                        session::pool::slots_dir(config, shape).string()));
    }
    if (m_json) {
      json out = {{"size", config.pool}, {"ready", now.ready}, {"starting", now.starting}};
      if (m_drain) out["drained"] = drained;
      fmt::print("{}\n", out.dump());
    } else if (m_drain) {
      fmt::print("{} pool sandbox{} stopped\n", drained, drained == 1 ? "" : "es");
    } else {
      fmt::print("pool: {} ready, {} starting (session.pool = {})\n", now.ready, now.starting, config.pool);
    }
    return ExitCode::success;
  }

  void print_info(const json& info, bool running) const {
    if (m_json) {
      fmt::print("{}\n", info.dump());
      return;
    }
    if (!running) {
      fmt::print("no session is running for {}\n", info.value("workspace", ""));
      return;
    }
    fmt::print("session     {}\nworkspace   {}\npid         {}\nuptime      {}\nexecutions  {}\nkernels     {}\nmemory      {}\n",
               info.value("session", ""), info.value("workspace", ""), info.value("pid", 0), uptime_text(info.value("uptime_s", 0.0)),
               info.value("execution_count", 0), kernels_text(info), memory_text(info.value("memory_bytes", std::uint64_t{0})));
  }

  // `stop` returns once the daemon process is gone (its jail with it), so nothing is left behind.
  // (A daemon that exited but is not reaped yet — a zombie — counts as gone.)
  static void wait_gone(pid_t pid) {
    for (int i = 0; pid > 0 && i < 1000; ++i) {
      auto stat = sys::read_file(fmt::format("/proc/{}/stat", pid));
      if (!stat) return;
      auto state = stat->rfind(") ");
      if (state != std::string::npos && state + 2 < stat->size() && (*stat)[state + 2] == 'Z') return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::string m_action;
  std::string m_workspace;
  bool m_json = false;
  bool m_wait = false;
  bool m_drain = false;
};

} // namespace

std::unique_ptr<Command> make_session_command() { return std::make_unique<SessionCommand>(); }

} // namespace sandpit::cli
