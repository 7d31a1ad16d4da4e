// The sandboxes one `sandpit serve` runs: each a session (a workspace of its own and its daemon), with E2B's identity, tokens and lifetime.
#pragma once

#include "common.hpp"

#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/files/files.hpp"
#include "sandpit/session/client.hpp"
#include "sandpit/sys/fd.hpp"

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sandpit::serve {

// An answer the control plane gives as E2B's {"code", "message"} body.
struct ApiError : std::runtime_error {
  ApiError(int s, const std::string& message) : std::runtime_error(message), status(s) {}
  int status;
};

// A code-interpreter context: a kernel of its own in the sandbox (E2B's /contexts).
struct CodeContext {
  std::string id;
  std::string language; // "python", "javascript", "bash"
  std::string cwd;
  std::string kernel;   // the session's context name ("" for the language's default kernel)
};

class Watcher;

struct Sandbox {
  std::string id;
  std::string template_id;
  std::string owner; // the identity of the API key that made it
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::string> env; // envVars, plus E2B_SANDBOX*: every process sees them
  std::string envd_token;                 // X-Access-Token on envd calls, and the key of file URL signatures
  std::string traffic_token;              // E2B-Traffic-Access-Token on code-interpreter calls
  SystemClock::time_point started;
  Workspace workspace;

  mutable std::mutex mutex; // everything below
  SystemClock::time_point end;
  bool killed = false;
  std::map<std::string, CodeContext> contexts; // by id, the two defaults included
  std::map<std::string, std::string> default_context; // language -> context id
  std::map<std::string, std::shared_ptr<Watcher>> watchers; // CreateWatcher's, polled by GetWatcherEvents
};

struct CreateSpec {
  std::string owner;
  std::string user_agent;
  std::string template_id = "base";
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::string> env;
  std::int64_t timeout_s = 300;
};

class Sandboxes {
public:
  Sandboxes(const config::Config& config, std::string config_file);
  ~Sandboxes(); // ends every sandbox
  Sandboxes(const Sandboxes&) = delete;
  Sandboxes& operator=(const Sandboxes&) = delete;

  // Makes the workspace and starts its session daemon (its first kernel warming
  // up meanwhile). Throws ApiError (400 bad input, 429 too many, 500 setup).
  std::shared_ptr<Sandbox> create(const CreateSpec& spec);
  // A live sandbox, or nullptr (unknown, killed or expired).
  std::shared_ptr<Sandbox> find(const std::string& id) const;
  // A live sandbox of `owner`, or nullptr: one key's sandboxes are invisible to another's.
  std::shared_ptr<Sandbox> find_owned(const std::string& id, const std::string& owner) const;
  // Ends it: the daemon stopped, its files removed. false: no such live sandbox of `owner`.
  bool kill(const std::string& id, const std::string& owner);
  std::vector<std::shared_ptr<Sandbox>> list(const std::string& owner) const;
  // Every live sandbox, whoever owns it (a signed file URL names no owner).
  std::vector<std::shared_ptr<Sandbox>> all() const;
  // Ends every sandbox (SIGINT/SIGTERM).
  void kill_all();

  // A connection to the sandbox's session daemon (started again if it went away).
  session::Client client(const Sandbox& sandbox) const;
  // The sandbox's /workspace (= /home/user), /persist and /tmp as its jail sees them.
  std::shared_ptr<const files::Roots> roots(Sandbox& sandbox);

  const config::Config& config() const { return m_config; }
  const std::string& config_file() const { return m_config_file; }

private:
  struct Live {
    std::shared_ptr<Sandbox> sandbox;
    std::optional<session::Client> lease; // held open: the daemon stays while serve runs, and goes idle if serve dies
    pid_t daemon_pid = -1;
    std::shared_ptr<const files::Roots> roots;
    sys::Fd owner_lock; // flock'd for the sandbox's life: see sweep_leftover_sandboxes
  };
  void reap();
  void destroy(Live live);

  const config::Config& m_config;
  std::string m_config_file;
  mutable std::mutex m_mutex;
  std::map<std::string, Live> m_live;
  std::size_t m_starting = 0; // creations under way, counted against serve.max_sandboxes
  std::condition_variable m_wake;
  bool m_stopping = false;
  std::thread m_reaper;
};

// The host folder of a sandbox's workspace: state_home()/serve/sandboxes/<id>.
fs::path sandbox_folder(const std::string& id);

// The file in a sandbox's folder that its server holds an exclusive flock on while the sandbox lives.
fs::path owner_lock_path(const std::string& id);

// Waits for a workspace's daemon to let go of its "alive" lock (it has exited), at most 5 s, then SIGKILLs `pid`.
void wait_daemon_gone(const Workspace& workspace, pid_t pid);

// Sandboxes whose server is gone (killed with SIGKILL: nobody holds their owner
// lock): stops their daemons, records what they lost as interrupted, and removes
// their folders. Returns a notice per lost action, naming the sandbox. Called when
// `sandpit serve` starts; sandboxes of another running server are left alone.
std::vector<std::string> sweep_leftover_sandboxes(const config::Config& config, const std::string& config_file);

} // namespace sandpit::serve
