#include "methods.hpp"

#include "sandpit/core/version.hpp"

#include <algorithm>

namespace sandpit::mcp {
namespace {

using nlohmann::json;

// Constants, not std::strings: a global std::string is built at start-up by
// every process of this binary, the jail init and session daemon included.
constexpr const char* k_version_key = "io.modelcontextprotocol/protocolVersion";
constexpr const char* k_client_key = "io.modelcontextprotocol/clientInfo";
constexpr const char* k_server_key = "io.modelcontextprotocol/serverInfo";
constexpr const char* k_capabilities_key = "io.modelcontextprotocol/clientCapabilities";

const char* k_instructions =
    "sandpit runs Python, JavaScript, TypeScript and bash in a local Linux sandbox (no network, no access to the user's files). "
    "State persists per session between run_code calls; /workspace holds the session's files and /persist the user's volume. "
    "Move files in and out with upload_file and download_file.";

json server_info() { return {{"name", "sandpit"}, {"title", "sandpit code interpreter"}, {"version", SANDPIT_VERSION}}; }

json capabilities() { return {{"tools", {{"listChanged", false}}}}; }

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

const json* meta_of(const json& params) {
  if (!params.is_object() || !params.contains("_meta") || !params["_meta"].is_object()) return nullptr;
  return &params["_meta"];
}

std::optional<ClientInfo> client_in(const json& info) {
  if (!info.is_object() || !info.contains("name") || !info["name"].is_string()) return std::nullopt;
  ClientInfo c;
  c.name = info["name"].get<std::string>().substr(0, 100);
  if (info.contains("version") && info["version"].is_string()) c.version = info["version"].get<std::string>().substr(0, 100);
  return c;
}

} // namespace

const std::vector<std::string>& handshake_versions() {
  static const std::vector<std::string> versions{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
  return versions;
}

const std::vector<std::string>& modern_versions() {
  static const std::vector<std::string> versions{"2026-07-28"};
  return versions;
}

bool Methods::modern(const json& params) {
  const auto* meta = meta_of(params);
  if (!meta || !meta->contains(k_version_key)) return false;
  const auto& requested = (*meta)[k_version_key];
  if (!requested.is_string() || !contains(modern_versions(), requested.get<std::string>())) {
    const auto shown = requested.is_string() ? requested.get<std::string>() : requested.dump();
    throw RpcError(code::unsupported_protocol_version, "Unsupported protocol version: " + shown,
                   {{"supported", modern_versions()}, {"requested", requested}});
  }
  if (!meta->contains(k_capabilities_key) || !(*meta)[k_capabilities_key].is_object()) {
    throw RpcError(code::invalid_params,
                   "Invalid _meta envelope for protocol revision " + requested.get<std::string>() + ": " + k_capabilities_key + ": missing",
                   {{"envelope", {{"key", k_capabilities_key}, {"problem", "missing"}}}});
  }
  return true;
}

json Methods::stamped(json result, bool cacheable) {
  result["resultType"] = "complete";
  if (cacheable) {
    result["ttlMs"] = 0; // the tool list may change with the next release: never serve it from a cache
    result["cacheScope"] = "private";
  }
  result["_meta"] = {{k_server_key, server_info()}};
  return result;
}

ClientInfo Methods::client_for(const json& params) const {
  if (const auto* meta = meta_of(params); meta && meta->contains(k_client_key)) {
    if (auto c = client_in((*meta)[k_client_key])) return *c;
  }
  std::lock_guard lock(m_mutex);
  return m_client;
}

json Methods::initialize(const json& params) {
  if (!params.contains("protocolVersion") || !params["protocolVersion"].is_string()) {
    throw RpcError(code::invalid_params, "Invalid params: initialize needs a string \"protocolVersion\"");
  }
  const auto requested = params["protocolVersion"].get<std::string>();
  // A version we do not speak gets our newest; the client decides whether it can go on.
  const auto version = contains(handshake_versions(), requested) ? requested : handshake_versions().front();
  if (params.contains("clientInfo")) {
    if (auto c = client_in(params["clientInfo"])) {
      std::lock_guard lock(m_mutex);
      m_client = *c;
    }
  }
  return {{"protocolVersion", version}, {"capabilities", capabilities()}, {"serverInfo", server_info()}, {"instructions", k_instructions}};
}

json Methods::answer(const std::string& method, const json& params) {
  if (!params.is_object()) throw RpcError(code::invalid_params, "Invalid params: \"params\" must be an object");
  const bool is_modern = modern(params);
  if (method == "initialize") {
    if (is_modern) {
      throw RpcError(code::unsupported_protocol_version, "initialize is not part of protocol revision 2026-07-28",
                     {{"supported", modern_versions()}, {"requested", params.value("protocolVersion", json())}});
    }
    return initialize(params);
  }
  // 2026-07-28 has no ping: a request's answer is its own liveness check.
  if (method == "ping" && !is_modern) return json::object();
  if (method == "server/discover") {
    return stamped({{"supportedVersions", modern_versions()}, {"capabilities", capabilities()}, {"instructions", k_instructions}}, true);
  }
  if (method == "tools/list") {
    if (params.contains("cursor") && !params["cursor"].is_string()) throw RpcError(code::invalid_params, "Invalid params: \"cursor\" must be a string");
    json result = {{"tools", m_tools.list()}};
    return is_modern ? stamped(std::move(result), true) : result;
  }
  throw RpcError(code::method_not_found, "Method not found: " + method);
}

json Methods::call_tool(const json& params, Call& call) {
  if (!params.is_object()) throw RpcError(code::invalid_params, "Invalid params: \"params\" must be an object");
  const bool is_modern = modern(params);
  if (!params.contains("name") || !params["name"].is_string()) throw RpcError(code::invalid_params, "Invalid params: tools/call needs a string \"name\"");
  json arguments = params.contains("arguments") ? params["arguments"] : json::object();
  if (arguments.is_null()) arguments = json::object();
  if (!arguments.is_object()) throw RpcError(code::invalid_params, "Invalid params: \"arguments\" must be an object");
  auto result = m_tools.call(params["name"].get<std::string>(), arguments, call);
  return is_modern ? stamped(std::move(result), false) : result;
}

} // namespace sandpit::mcp
