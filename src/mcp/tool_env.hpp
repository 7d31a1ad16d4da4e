// ToolEnv: what every sandpit tool needs — the config, session workspaces, the caller, and file copies on the FileWorker.
#pragma once

#include "file_worker.hpp"

#include "sandpit/core/paths.hpp"
#include "sandpit/files/files.hpp"
#include "sandpit/mcp/tools.hpp"
#include "sandpit/session/admission.hpp"

#include <string>
#include <string_view>

namespace sandpit::mcp {

class ToolEnv {
public:
  explicit ToolEnv(ToolsOptions options) : m_options(std::move(options)) {}

  const ToolsOptions& options() const { return m_options; }
  const config::Config& config() const { return m_options.config(); }
  // The workspace of session `name` (created on first use).
  Workspace workspace(const std::string& name) const;
  // Who the audit records name: the identity, `command`, and the MCP client.
  session::Caller caller(const Call& call, std::string command) const;

  // Runs `copy` on the FileWorker, inside the workspace's quota mounts, and audits it as `caller.command`.
  files::Report transfer(const session::Caller& caller, const Workspace& workspace, const session::TransferAsked& asked,
                         const std::function<files::Report(const files::Roots&, const files::Transfer&)>& copy);
  // Writes `bytes` to `path` in the sandbox (through a private host file, with upload's rules).
  files::Report write(const session::Caller& caller, const Workspace& workspace, const files::SandboxPath& path, std::string_view bytes,
                      const std::string& from);
  // Reads the file at `path` (at most `max_bytes`, else Error(usage)) with download's rules.
  std::string read(const session::Caller& caller, const Workspace& workspace, const files::SandboxPath& path, std::uint64_t max_bytes,
                   files::Report& report);

  // A host path the client named: canonical, and under an --allow-dir directory, else BadArgument.
  // `must_exist`: the path itself (upload); otherwise its folder (download).
  std::filesystem::path allowed_host_path(const std::string& text, bool must_exist) const;

private:
  ToolsOptions m_options;
  FileWorker m_worker;
};

// A result of one text block.
nlohmann::json text_result(std::string text, bool is_error);

} // namespace sandpit::mcp
