// Methods: what each MCP request answers, in both protocol eras (initialize handshake, and 2026-07-28's server/discover).
#pragma once

#include "sandpit/mcp/server.hpp"

#include <mutex>

namespace sandpit::mcp {

class Methods {
public:
  explicit Methods(Tools& tools) : m_tools(tools) {}

  // The result of any request but tools/call. Throws RpcError
  // (method_not_found, invalid_params, unsupported_protocol_version).
  nlohmann::json answer(const std::string& method, const nlohmann::json& params);
  // tools/call: checks its params and runs the tool. Throws RpcError.
  nlohmann::json call_tool(const nlohmann::json& params, Call& call);
  // The client a request comes from: its _meta's clientInfo (2026-07-28), else the handshake's.
  ClientInfo client_for(const nlohmann::json& params) const;

private:
  // Whether the request belongs to the 2026-07-28 era (its _meta names a protocol
  // version); throws unsupported_protocol_version for a version this server does not speak.
  static bool modern(const nlohmann::json& params);
  nlohmann::json initialize(const nlohmann::json& params);
  // Adds what a 2026-07-28 result carries (resultType, serverInfo, cache hints).
  static nlohmann::json stamped(nlohmann::json result, bool cacheable);

  Tools& m_tools;
  mutable std::mutex m_mutex;
  ClientInfo m_client; // from initialize
};

} // namespace sandpit::mcp
