#include "service.hpp"

#include "sandpit/audit/record.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/files/base64.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

namespace sandpit::serve {
namespace {

bool valid_sandbox_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") == std::string::npos;
}

// base64 (standard alphabet, no padding) of SHA-256(`text`): E2B's URL signatures.
std::string signature_of(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  auto b64 = files::encode_base64(std::string_view(reinterpret_cast<const char*>(digest), size));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "v1_" + b64;
}

} // namespace

Service::Service(const config::Config& config, std::string config_file, std::map<std::string, std::string> api_keys)
    : m_sandboxes(config, std::move(config_file)), m_api_keys(std::move(api_keys)) {
  const auto spool = state_home() / "serve" / "tmp";
  std::error_code ec;
  fs::create_directories(spool, ec);
  fs::permissions(spool, fs::perms::owner_all, ec);
  m_spool_dir = spool.string();
}

std::optional<std::string> Service::identity_of(const std::string& key) const {
  if (key.empty()) return std::nullopt;
  for (const auto& [known, who] : m_api_keys) {
    if (same_secret(known, key)) return who;
  }
  return std::nullopt;
}

session::Caller Service::caller(const Sandbox& sandbox, const http::Request& req) const {
  auto agent = req.header("user-agent");
  if (agent.size() > 200) agent.resize(200);
  return session::Caller{sandbox.owner, "serve", agent.empty() ? "unknown E2B client" : agent};
}

void Service::handle(http::Request& req, http::Response& res) {
  try {
    const bool has_id = req.has_header("e2b-sandbox-id");
    const bool has_port = req.has_header("e2b-sandbox-port");
    if (has_id || has_port) {
      if (!has_id || !has_port) return send_text(res, 400, "missing header\n");
      return sandbox_traffic(req, res);
    }
    if (req.path == "/files" && req.has_param("signature")) return signed_file_url(req, res);
    const auto who = identity_of(req.header("x-api-key"));
    if (!who) return send_error(res, 401, "Invalid API key, please visit https://e2b.dev/docs/api-key to get your API key.");
    control_plane(*this, *who, req, res);
  } catch (const ApiError& e) {
    if (!res.answered()) send_error(res, e.status, e.what());
  } catch (const Error& e) {
    if (!res.answered()) send_error(res, 500, e.subject() + ": " + e.reason());
  }
}

void Service::sandbox_traffic(http::Request& req, http::Response& res) {
  const auto id = req.header("e2b-sandbox-id");
  const auto port = req.header("e2b-sandbox-port");
  if (!valid_sandbox_id(id)) return send_text(res, 400, "Invalid sandbox ID\n");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return send_text(res, 400, "Invalid sandbox port\n");
  auto sandbox = m_sandboxes.find(id);
  if (!sandbox) return send_json(res, 502, {{"sandboxId", id}, {"message", "The sandbox was not found"}, {"code", 502}});
  if (port == "49999") return interpreter(*this, sandbox, req, res);
  if (port == "49983") return envd(*this, sandbox, req, res);
  send_json(res, 502, {{"sandboxId", id}, {"message", "The sandbox is running but port is not open"}, {"port", std::stoi(port)}, {"code", 502}});
}

// uploadUrl()/downloadUrl() point at /files with a signature and no routing
// headers: the sandbox is the one whose token makes the signature.
void Service::signed_file_url(http::Request& req, http::Response& res) {
  for (const auto& candidate : m_sandboxes.all()) {
    std::string why;
    if (signature_valid(*candidate, req, why)) return files_endpoint(*this, candidate, req, res);
  }
  send_error(res, 401, "invalid signature");
}

bool signature_valid(const Sandbox& sandbox, const http::Request& req, std::string& why) {
  const auto signature = req.param("signature");
  if (signature.empty()) {
    why = "missing signature query parameter";
    return false;
  }
  const std::string operation = req.method == "GET" ? "read" : "write";
  std::string raw = fmt::format("{}:{}:{}:{}", req.param("path"), operation, req.param("username"), sandbox.envd_token);
  const auto expiration = req.param("signature_expiration");
  if (!expiration.empty()) raw += ":" + expiration;
  if (!same_secret(signature_of(raw), signature)) {
    why = "invalid signature";
    return false;
  }
  if (!expiration.empty()) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(SystemClock::now().time_since_epoch()).count();
    if (expiration.size() > 18 || expiration.find_first_not_of("0123456789") != std::string::npos || std::stoll(expiration) < now) {
      why = "signature is already expired";
      return false;
    }
  }
  return true;
}

} // namespace sandpit::serve
