// SandpitTools: the Tools seam implemented over sandpit's sessions and file copies (one file per tool family).
#pragma once

#include "tool_env.hpp"

#include "sandpit/session/execution.hpp"

namespace sandpit::mcp {

class SandpitTools final : public Tools {
public:
  explicit SandpitTools(ToolsOptions options) : m_structured(options.structured), m_env(std::move(options)) {}

  nlohmann::json list() const override { return tool_catalog(m_structured); }
  // Runs the tool; its failures (bad arguments, a refused or failed run) come back as isError results.
  nlohmann::json call(const std::string& name, const nlohmann::json& arguments, Call& call) override;
  // A session's calls run in order; a call naming no valid session goes with "default".
  std::string lane(const std::string& name, const nlohmann::json& arguments) const override;

private:
  nlohmann::json run_code(const nlohmann::json& arguments, Call& call);
  nlohmann::json upload_file(const nlohmann::json& arguments, Call& call);
  nlohmann::json download_file(const nlohmann::json& arguments, Call& call);
  nlohmann::json reset_session(const nlohmann::json& arguments, Call& call);

  // The result of an execution: a text block (header, output cut to mcp.max_output, value, error) and its images.
  nlohmann::json present(const std::string& session, const Workspace& workspace, const session::Caller& caller,
                         session::ExecResult result, const std::string& notes);

  bool m_structured;
  ToolEnv m_env;
};

} // namespace sandpit::mcp
