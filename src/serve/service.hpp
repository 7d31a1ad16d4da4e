// Service: what `sandpit serve`'s handlers share (config, sandboxes, keys), and the entry points of its three faces:
// the control plane (API keys), the code interpreter (port 49999) and envd (port 49983).
#pragma once

#include "common.hpp"
#include "sandboxes.hpp"

#include "sandpit/session/admission.hpp"

#include <map>
#include <optional>
#include <string>

namespace sandpit::serve {

class Service {
public:
  Service(const config::Config& config, std::string config_file, std::map<std::string, std::string> api_keys);

  // Routes one request: sandbox traffic by E2b-Sandbox-Id/-Port, the rest to the control plane.
  void handle(http::Request& req, http::Response& res);

  const config::Config& config() const { return m_sandboxes.config(); }
  Sandboxes& sandboxes() { return m_sandboxes; }
  // The identity an API key acts as, or nullopt.
  std::optional<std::string> identity_of(const std::string& key) const;
  // Who a sandbox request acts as: the sandbox's owner, command "serve", the SDK's user agent.
  session::Caller caller(const Sandbox& sandbox, const http::Request& req) const;
  // Where spooled request bodies and gunzipped uploads go.
  const std::string& spool_dir() const { return m_spool_dir; }

private:
  void sandbox_traffic(http::Request& req, http::Response& res);
  void signed_file_url(http::Request& req, http::Response& res);

  Sandboxes m_sandboxes;
  std::map<std::string, std::string> m_api_keys; // key -> identity
  std::string m_spool_dir;
};

// The control plane: create, connect, list, info, timeout, kill (and clear refusals for pause and snapshots).
void control_plane(Service& service, const std::string& owner, http::Request& req, http::Response& res);
// The code interpreter: /execute, /contexts, /health.
void interpreter(Service& service, const std::shared_ptr<Sandbox>& sandbox, http::Request& req, http::Response& res);
// envd: /health, /envs, /files and the Connect services process.Process and filesystem.Filesystem.
void envd(Service& service, const std::shared_ptr<Sandbox>& sandbox, http::Request& req, http::Response& res);
// GET/POST /files, once the caller is known to hold the sandbox's token or a valid signature.
void files_endpoint(Service& service, const std::shared_ptr<Sandbox>& sandbox, http::Request& req, http::Response& res);
// Whether `req` carries a valid E2B URL signature for `sandbox` (v1_, path:operation:user:token[:expiry]).
bool signature_valid(const Sandbox& sandbox, const http::Request& req, std::string& why);

} // namespace sandpit::serve
