// The tools `sandpit mcp` offers: run_code, upload_file, download_file and reset_session, over sandpit's sessions and file copies.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/mcp/server.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sandpit::mcp {

struct ToolsOptions {
  std::string config_file;                           // --config, handed to the session daemons
  std::function<const config::Config&()> config;     // loaded on the first tool call, not before
  std::vector<std::filesystem::path> allow_dirs;     // --allow-dir: where host_path may point (canonical)
  bool structured = false;                           // --structured: outputSchema and structuredContent
};

std::unique_ptr<Tools> make_sandpit_tools(ToolsOptions options);

// The tools/list array: names, descriptions, input schemas (and output schemas when structured).
nlohmann::json tool_catalog(bool structured);

// The workspace of MCP session `name`: a folder of its own, state_home()/mcp/sessions/<name>,
// created on first use. `name` must satisfy valid_session_name.
std::filesystem::path session_folder(const std::string& name);

} // namespace sandpit::mcp
