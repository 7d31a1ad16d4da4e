#include "tools_impl.hpp"

#include "arguments.hpp"

#include "sandpit/core/error.hpp"

namespace sandpit::mcp {

nlohmann::json SandpitTools::call(const std::string& name, const nlohmann::json& arguments, Call& call) {
  try {
    if (name == "run_code") return run_code(arguments, call);
    if (name == "upload_file") return upload_file(arguments, call);
    if (name == "download_file") return download_file(arguments, call);
    if (name == "reset_session") return reset_session(arguments, call);
  } catch (const BadArgument& e) {
    return text_result(std::string("invalid arguments: ") + e.what(), true);
  } catch (const Error& e) {
    // The same words the command line prints: "sandpit: refused by policy: line 1: ...".
    return text_result("sandpit: " + e.subject() + ": " + e.reason(), true);
  }
  throw RpcError(code::invalid_params, "Unknown tool: " + name);
}

std::string SandpitTools::lane(const std::string&, const nlohmann::json& arguments) const {
  if (arguments.is_object() && arguments.contains("session") && arguments["session"].is_string()) {
    const auto name = arguments["session"].get<std::string>();
    if (valid_session_name(name)) return name;
  }
  return "default";
}

std::unique_ptr<Tools> make_sandpit_tools(ToolsOptions options) { return std::make_unique<SandpitTools>(std::move(options)); }

} // namespace sandpit::mcp
