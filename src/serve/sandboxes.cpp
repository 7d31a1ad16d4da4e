#include "sandboxes.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/session/daemon.hpp"
#include "sandpit/session/pool.hpp"
#include "sandpit/session/profile.hpp"

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

namespace sandpit::serve {
namespace {

using Clock = std::chrono::steady_clock;

// E2B's home and user: code written for E2B reads and writes /home/user.
constexpr const char* k_home = "/home/user";
constexpr const char* k_user = "user";

std::string uuid_like() {
  auto hex = random_hex(16);
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4), hex.substr(16, 4), hex.substr(20));
}

} // namespace

void wait_daemon_gone(const Workspace& workspace, pid_t pid) {
  sys::Fd alive(::open(session::alive_path(workspace).c_str(), O_RDONLY | O_CLOEXEC));
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  while (alive.valid() && Clock::now() < give_up) {
    if (::flock(alive.get(), LOCK_SH | LOCK_NB) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (pid > 0) ::kill(pid, SIGKILL);
}

fs::path sandbox_folder(const std::string& id) { return state_home() / "serve" / "sandboxes" / id; }
fs::path owner_lock_path(const std::string& id) { return sandbox_folder(id) / ".sandpit-serve.lock"; }

Sandboxes::Sandboxes(const config::Config& config, std::string config_file)
    : m_config(config), m_config_file(std::move(config_file)), m_reaper([this] { reap(); }) {
  // Sandboxes made ahead for the first Sandbox.create() (session.pool; every later create refills it).
  session::pool::request_fill(m_config, m_config_file, {k_home, k_user});
}

Sandboxes::~Sandboxes() {
  kill_all();
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  if (m_reaper.joinable()) m_reaper.join();
}

std::shared_ptr<Sandbox> Sandboxes::create(const CreateSpec& spec) {
  if (spec.timeout_s <= 0) throw ApiError(400, "Timeout must be greater than 0");
  const auto max_s = m_config.serve_max_timeout.count() / 1000;
  if (spec.timeout_s > max_s) throw ApiError(400, fmt::format("Timeout cannot be greater than {} seconds (serve.max_timeout)", max_s));
  try {
    session::check_env(spec.env);
  } catch (const Error& e) {
    throw ApiError(400, e.subject() + ": " + e.reason());
  }
  {
    std::lock_guard lock(m_mutex);
    if (m_live.size() + m_starting >= m_config.serve_max_sandboxes) {
      throw ApiError(429, fmt::format("{} sandboxes are running, as many as serve.max_sandboxes allows; kill one first", m_live.size() + m_starting));
    }
    ++m_starting;
  }
  struct Unstart {
    Sandboxes& s;
    ~Unstart() {
      std::lock_guard lock(s.m_mutex);
      --s.m_starting;
    }
  } unstart{*this};

  auto sandbox = std::make_shared<Sandbox>();
  sandbox->id = random_id(20);
  sandbox->template_id = spec.template_id.empty() ? "base" : spec.template_id;
  sandbox->owner = spec.owner;
  sandbox->metadata = spec.metadata;
  sandbox->env = spec.env;
  sandbox->env["E2B_SANDBOX"] = "true";
  sandbox->env["E2B_SANDBOX_ID"] = sandbox->id;
  sandbox->env["E2B_TEMPLATE_ID"] = sandbox->template_id;
  sandbox->envd_token = random_hex(32);
  sandbox->traffic_token = random_hex(32);
  sandbox->started = SystemClock::now();
  sandbox->end = sandbox->started + std::chrono::seconds(spec.timeout_s);
  for (const char* language : {"python", "javascript"}) {
    CodeContext context{uuid_like(), language, k_home, ""};
    sandbox->default_context[language] = context.id;
    sandbox->contexts[context.id] = context;
  }
  const auto folder = sandbox_folder(sandbox->id);
  std::error_code ec;
  fs::create_directories(folder, ec);
  fs::permissions(folder.parent_path(), fs::perms::owner_all, ec);
  if (ec) throw ApiError(500, fmt::format("cannot create {}: {}", folder.string(), ec.message()));
  Live live;
  live.sandbox = sandbox;
  // Held while this server lives: a server started after this one is killed knows the sandbox is nobody's.
  live.owner_lock = sys::Fd(::open(owner_lock_path(sandbox->id).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (live.owner_lock.valid()) (void)::flock(live.owner_lock.get(), LOCK_EX | LOCK_NB);
  try {
    sandbox->workspace = Workspace::resolve(folder.string());
    sandbox->workspace.ensure_created();
    session::Profile profile;
    profile.env = sandbox->env;
    profile.home = k_home;
    profile.user_name = k_user;
    session::save_profile(sandbox->workspace, profile);
    // A code interpreter's first request is almost always Python: that kernel starts with the jail.
    const bool interpreter = sandbox->template_id.find("code-interpreter") != std::string::npos;
    live.lease = session::Client::connect(sandbox->workspace, m_config_file, session::Start::yes, interpreter ? "python" : "", 0, &m_config);
    live.daemon_pid = live.lease->hello().value("pid", -1);
  } catch (const Error& e) {
    destroy(std::move(live));
    throw ApiError(500, fmt::format("the sandbox could not be set up: {}: {}", e.subject(), e.reason()));
  }
  std::lock_guard lock(m_mutex);
  m_live[sandbox->id] = std::move(live);
  return sandbox;
}

std::shared_ptr<Sandbox> Sandboxes::find(const std::string& id) const {
  std::lock_guard lock(m_mutex);
  auto it = m_live.find(id);
  if (it == m_live.end()) return nullptr;
  std::lock_guard sandbox_lock(it->second.sandbox->mutex);
  if (it->second.sandbox->killed || it->second.sandbox->end <= SystemClock::now()) return nullptr;
  return it->second.sandbox;
}

std::shared_ptr<Sandbox> Sandboxes::find_owned(const std::string& id, const std::string& owner) const {
  auto sandbox = find(id);
  return sandbox && sandbox->owner == owner ? sandbox : nullptr;
}

bool Sandboxes::kill(const std::string& id, const std::string& owner) {
  Live live;
  {
    std::lock_guard lock(m_mutex);
    auto it = m_live.find(id);
    if (it == m_live.end() || it->second.sandbox->owner != owner) return false;
    live = std::move(it->second);
    m_live.erase(it);
  }
  destroy(std::move(live));
  return true;
}

std::vector<std::shared_ptr<Sandbox>> Sandboxes::list(const std::string& owner) const {
  std::vector<std::shared_ptr<Sandbox>> out;
  std::lock_guard lock(m_mutex);
  for (const auto& [id, live] : m_live) {
    if (live.sandbox->owner != owner) continue;
    std::lock_guard sandbox_lock(live.sandbox->mutex);
    if (!live.sandbox->killed && live.sandbox->end > SystemClock::now()) out.push_back(live.sandbox);
  }
  return out;
}

std::vector<std::shared_ptr<Sandbox>> Sandboxes::all() const {
  std::vector<std::shared_ptr<Sandbox>> out;
  std::lock_guard lock(m_mutex);
  for (const auto& [id, live] : m_live) {
    std::lock_guard sandbox_lock(live.sandbox->mutex);
    if (!live.sandbox->killed && live.sandbox->end > SystemClock::now()) out.push_back(live.sandbox);
  }
  return out;
}

void Sandboxes::kill_all() {
  std::map<std::string, Live> all;
  {
    std::lock_guard lock(m_mutex);
    all.swap(m_live);
  }
  // Their daemons stop in parallel: a shutdown is a few ms each, but a stuck one waits 5 s.
  std::vector<std::thread> stoppers;
  for (auto& [id, live] : all) {
    try {
      stoppers.emplace_back([this, l = std::move(live)]() mutable { destroy(std::move(l)); });
    } catch (const std::system_error&) {
    }
  }
  for (auto& t : stoppers) t.join();
}

session::Client Sandboxes::client(const Sandbox& sandbox) const {
  auto c = session::Client::connect(sandbox.workspace, m_config_file, session::Start::yes, "", 0);
  return std::move(*c);
}

std::shared_ptr<const files::Roots> Sandboxes::roots(Sandbox& sandbox) {
  {
    std::lock_guard lock(m_mutex);
    auto it = m_live.find(sandbox.id);
    if (it != m_live.end() && it->second.roots) {
      // Lent by the daemon that still runs: the lease would have hung up otherwise.
      pollfd p{it->second.lease ? it->second.lease->fd() : -1, POLLRDHUP, 0};
      if (it->second.lease && ::poll(&p, 1, 0) == 0) return it->second.roots;
    }
  }
  auto c = client(sandbox);
  auto roots = std::make_shared<const files::Roots>(c.roots());
  std::lock_guard lock(m_mutex);
  auto it = m_live.find(sandbox.id);
  if (it != m_live.end()) {
    if (!it->second.lease || it->second.daemon_pid != c.hello().value("pid", -1)) {
      // The daemon was started again (it died): hold the new one.
      it->second.lease = session::Client::connect(sandbox.workspace, m_config_file, session::Start::no, "", 0);
      it->second.daemon_pid = c.hello().value("pid", -1);
    }
    it->second.roots = roots;
  }
  return roots;
}

void Sandboxes::reap() {
  std::unique_lock lock(m_mutex);
  while (!m_stopping) {
    m_wake.wait_for(lock, std::chrono::milliseconds(500));
    const auto now = SystemClock::now();
    std::vector<Live> expired;
    for (auto it = m_live.begin(); it != m_live.end();) {
      bool over;
      {
        std::lock_guard sandbox_lock(it->second.sandbox->mutex);
        over = it->second.sandbox->end <= now;
      }
      if (over) {
        expired.push_back(std::move(it->second));
        it = m_live.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    for (auto& live : expired) {
      fmt::print(stderr, "sandpit serve: sandbox {} reached its timeout: killed\n", live.sandbox->id);
      destroy(std::move(live));
    }
    lock.lock();
  }
}

void Sandboxes::destroy(Live live) {
  auto& sandbox = *live.sandbox;
  {
    std::lock_guard lock(sandbox.mutex);
    sandbox.killed = true;
  }
  live.roots.reset();
  try {
    if (auto c = session::Client::connect(sandbox.workspace, m_config_file, session::Start::no)) {
      const pid_t pid = c->hello().value("pid", -1);
      try {
        c->call(session::protocol::RequestType::shutdown);
      } catch (const Error&) {
      }
      live.lease.reset();
      wait_daemon_gone(sandbox.workspace, pid);
    }
  } catch (const Error& e) {
    fmt::print(stderr, "sandpit serve: sandbox {}: stopping its session: {}: {}\n", sandbox.id, e.subject(), e.reason());
  }
  std::error_code ec;
  if (!sandbox.workspace.state_dir.empty()) fs::remove_all(sandbox.workspace.state_dir, ec);
  fs::remove_all(sandbox_folder(sandbox.id), ec);
}

} // namespace sandpit::serve
