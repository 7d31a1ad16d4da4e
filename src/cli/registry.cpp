#include "sandpit/cli/command.hpp"

#include "commands.hpp"

namespace sandpit::cli {

std::vector<std::unique_ptr<Command>> make_commands() {
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(make_exec_command());
  commands.push_back(make_shell_command());
  commands.push_back(make_install_command());
  commands.push_back(make_session_command());
  commands.push_back(make_upload_command());
  commands.push_back(make_download_command());
  commands.push_back(make_volume_command());
  commands.push_back(make_audit_command());
  commands.push_back(make_stats_command());
  commands.push_back(make_config_command());
  commands.push_back(make_doctor_command());
  commands.push_back(make_mcp_command());
  commands.push_back(make_serve_command());
  return commands;
}

} // namespace sandpit::cli
