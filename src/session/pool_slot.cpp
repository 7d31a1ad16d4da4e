// A pool sandbox (`sandpit __pool-slot`): a session made before its workspace is known, waiting for the one
// client that gives it one (pool.hpp). After that it is that workspace's daemon, served by serve_session.
#include "sandpit/session/pool.hpp"

#include "pool_internal.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/files/quota.hpp"
#include "sandpit/kernels/language.hpp"
#include "sandpit/session/daemon.hpp"
#include "sandpit/session/session.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/sys/unix_socket.hpp"
#include "sandpit/util/trace.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sandpit::session::pool {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

void answer(int fd, const json& message) { (void)sys::write_all(fd, message.dump() + "\n"); }

struct Ask {
  bool fresh = false; // "fresh": one --fresh run (lend), else "adopt": the workspace's daemon from now on
  std::string workspace;
};

// The one request a slot takes: {"type": "adopt" | "fresh", "workspace": "<dir>"} on one line, within a second.
std::optional<Ask> read_ask(int fd) {
  const auto line = read_line(fd, std::chrono::seconds(1));
  auto m = json::parse(line, nullptr, false);
  if (!m.is_object() || m.size() != 2 || !m.contains("workspace") || !m["workspace"].is_string()) return std::nullopt;
  const auto type = m.value("type", "");
  if (type != "adopt" && type != "fresh") return std::nullopt;
  return Ask{type == "fresh", m["workspace"].get<std::string>()};
}

struct Adopted {
  Workspace workspace;
  sys::Fd listener;
  sys::Fd alive;
};

class Slot {
public:
  Slot(const fs::path& dir, const config::Config& config, std::string config_file)
      : m_dir(dir), m_config(config), m_config_file(std::move(config_file)), m_self{dir, "pool-" + dir.filename().string(), dir, dir / "files"} {}

  // Makes the sandbox and waits. Returns the exit code; 0 after it served a workspace and went idle.
  int run(int ready_fd) {
    auto report = [&](const std::string& line) {
      if (ready_fd < 0) return;
      (void)sys::write_all(ready_fd, line + "\n");
      ::close(ready_fd);
      ready_fd = -1;
    };
    sys::Fd alive(::open((m_dir / "alive").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!alive.valid() || ::flock(alive.get(), LOCK_EX | LOCK_NB) != 0) {
      report("125\tpool slot: its folder is in use");
      return 125;
    }
    write_note(m_dir / "pid", std::to_string(::getpid())); // for `session pool --drain`
    std::unique_ptr<Session> session;
    sys::Fd listener;
    try {
      m_shape = Shape::of(load_profile(m_self));
      files::enter_quota_mounts(m_config, m_self);
      std::vector<kernels::Language> languages;
      for (const auto& name : m_config.pool_languages) {
        if (auto language = kernels::parse_language(name)) languages.push_back(*language);
      }
      const auto template_dir = ready_template(m_dir.parent_path());
      // With a template, the Python kernel is forked from it by warm() below, not started with the jail.
      std::optional<kernels::Language> first;
      if (!languages.empty() && !(languages.front() == kernels::Language::python && !template_dir.empty())) first = languages.front();
      session = Session::start(m_config, m_self, Lifetime::persistent, first);
      if (!template_dir.empty()) session->use_template(template_dir);
      // Its preload (half a second of CPU for the data stack) yields to every session in use; adopt() gives
      // the jail its normal weight back.
      session->set_background(true);
      session->warm(languages, m_config.python_preload);
      auto bound = sys::listen_unix(m_dir.string(), "socket");
      if (!bound) throw Error(ExitCode::sandbox_setup, "pool slot", bound.failure().message());
      listener = std::move(bound).value();
    } catch (const Error& e) {
      report(fmt::format("{}\t{}: {}", static_cast<int>(e.code()), e.subject(), e.reason()));
      return static_cast<int>(e.code());
    }
    report("ok");
    auto adopted = wait_for_workspace(listener, *session);
    if (m_lent.valid()) {
      // Lent to one --fresh run: serve it, then go (the jail, the kernel and the attached mount with us).
      // `alive` stays held while it runs: a drain stops this sandbox (and the run) like any other.
      // Its socket goes first: `session pool` counts a held slot with a socket as ready.
      ::unlink((m_dir / "socket").c_str());
      listener.reset();
      trace::mark("pool: lent");
      serve_lent_execution(*session, m_lent.get());
      m_lent.reset();
      session.reset();
      alive.reset();
      // The filler (started back in the host's mount namespace) removes this folder: here its own image is
      // still mounted in it. Everything of the run goes with this process.
      std::error_code ec;
      // A drain since it released the lock removed the folder: then no refill (the drain stops a filler it sees).
      if (fs::exists(m_dir, ec)) request_fill(m_config, m_config_file, m_shape);
      return 0;
    }
    if (!adopted) return 0; // idle, or its folder is gone: nobody will ask
    trace::mark("pool: adopted");
    listener.reset();
    alive.reset();
    // The slot's folder goes with the refill, a moment later: its client is waiting for the hello now.
    refill_later(m_config, m_config_file, m_shape, m_dir);
    return serve_session(std::move(session), std::move(adopted->listener), adopted->workspace, m_config);
  }

private:
  // Until a client gives it a workspace, session.idle_timeout passes, or the slot's folder is removed.
  std::optional<Adopted> wait_for_workspace(const sys::Fd& listener, Session& session) {
    const auto idle_until = Clock::now() + m_config.idle_timeout;
    while (Clock::now() < idle_until) {
      std::error_code ec;
      if (!fs::exists(m_dir / "socket", ec)) return std::nullopt;
      // A new sandpit binary replaced ours: its clients make slots of their own; nobody will ask this one.
      if (fs::read_symlink("/proc/self/exe", ec).string().ends_with(" (deleted)")) return std::nullopt;
      pollfd p{listener.get(), POLLIN, 0};
      if (::poll(&p, 1, 1000) <= 0) continue; // a second at most to notice a drain
      sys::Fd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) continue;
      auto uid = sys::peer_uid(conn.get());
      if (!uid || *uid != ::getuid()) continue;
      trace::mark("pool: accepted");
      auto ask = read_ask(conn.get());
      if (!ask) {
        answer(conn.get(), {{"type", "error"}, {"message", "a pool slot takes one request: adopt or fresh"}});
        continue;
      }
      if (ask->fresh) {
        try {
          lend(ask->workspace, session);
          answer(conn.get(), {{"type", "lent"}, {"pid", ::getpid()}});
          m_lent = std::move(conn);
          return std::nullopt;
        } catch (const Error& e) {
          answer(conn.get(), {{"type", "error"}, {"message", fmt::format("{}: {}", e.subject(), e.reason())}});
          if (m_attached) std::exit(125); // the jail has that workspace's files: it serves nobody else
          continue;
        }
      }
      const auto* dir = &ask->workspace;
      try {
        auto adopted = adopt(*dir, session);
        answer(conn.get(), {{"type", "adopted"}});
        return adopted;
      } catch (const Error& e) {
        answer(conn.get(), {{"type", "error"}, {"message", fmt::format("{}: {}", e.subject(), e.reason())}});
        if (m_moved) std::exit(125); // half-adopted: the workspace has the image; its next start mounts it cold
      }
    }
    return std::nullopt;
  }

  Adopted adopt(const std::string& dir, Session& session) {
    Adopted out{Workspace::resolve(dir), {}, {}};
    const auto& w = out.workspace;
    w.ensure_created();
    auto refuse = [&](const std::string& why) { throw Error(ExitCode::sandbox_setup, "adopt " + w.host_dir.string(), why); };
    out.alive = sys::Fd(::open(alive_path(w).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!out.alive.valid() || ::flock(out.alive.get(), LOCK_EX | LOCK_NB) != 0) refuse("a daemon serves it already");
    std::error_code ec;
    if (fs::exists(w.state_dir / "workspace.img", ec) || !fs::is_empty(w.files_dir, ec)) refuse("it is not new");
    const auto profile = load_profile(w);
    if (profile.home != m_shape.home || profile.user_name != m_shape.user_name) refuse("its profile wants another sandbox");
    m_moved = true;
    trace::mark("pool: checked");
    files::move_workspace_area(m_self, w);
    trace::mark("pool: moved");
    session.adopt(m_config, w, profile);
    auto bound = sys::listen_unix(w.state_dir.string(), "socket");
    if (!bound) refuse(bound.failure().message());
    out.listener = std::move(bound).value();
    // From here on this daemon's log is the workspace's.
    sys::Fd log(::open((w.state_dir / "daemon.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (log.valid()) ::dup2(log.get(), STDERR_FILENO);
    return out;
  }

  // One --fresh run in this sandbox: the workspace's files mounted over its /workspace (and home), the
  // session told. The workspace keeps its own daemon, if it has one; nothing here becomes its.
  void lend(const std::string& dir, Session& session) {
    const auto w = Workspace::resolve(dir);
    const auto profile = load_profile(w);
    if (profile.home != m_shape.home || profile.user_name != m_shape.user_name) {
      throw Error(ExitCode::sandbox_setup, "lend to " + w.host_dir.string(), "its profile wants another sandbox");
    }
    files::enter_quota_mounts(m_config, w);
    trace::mark("pool: mounted");
    std::vector<std::string> targets{"/workspace"};
    if (!profile.home.empty() && profile.home != "/workspace") targets.push_back(profile.home);
    m_attached = true;
    files::attach_area(session.jail().init_pid(), w.files_dir, targets);
    trace::mark("pool: attached");
    session.lend(m_config, w, profile);
  }

  fs::path m_dir;
  const config::Config& m_config;
  std::string m_config_file;
  Workspace m_self;
  Shape m_shape;
  bool m_moved = false;
  bool m_attached = false;
  sys::Fd m_lent; // the --fresh run's connection, when lent
};

} // namespace

int slot_main(int argc, char** argv) {
  // sandpit __pool-slot <slot dir> <ready-fd> <config file>
  if (argc != 5) return 2;
  const int ready_fd = std::atoi(argv[3]);
  try {
    auto config = config::load({argv[4]});
    Slot slot(argv[2], config, argv[4]);
    return slot.run(ready_fd);
  } catch (const Error& e) {
    (void)sys::write_all(ready_fd, fmt::format("{}\t{}: {}\n", static_cast<int>(e.code()), e.subject(), e.reason()));
    return static_cast<int>(e.code());
  }
}

} // namespace sandpit::session::pool
