// The factory of each command, one per cmd_<name>.cpp.
#pragma once

#include "sandpit/cli/command.hpp"

namespace sandpit::cli {

std::unique_ptr<Command> make_exec_command();
std::unique_ptr<Command> make_shell_command();
std::unique_ptr<Command> make_session_command();
std::unique_ptr<Command> make_doctor_command();
std::unique_ptr<Command> make_config_command();
std::unique_ptr<Command> make_upload_command();
std::unique_ptr<Command> make_download_command();
std::unique_ptr<Command> make_volume_command();
std::unique_ptr<Command> make_audit_command();
std::unique_ptr<Command> make_stats_command();
std::unique_ptr<Command> make_mcp_command();
std::unique_ptr<Command> make_serve_command();
std::unique_ptr<Command> make_install_command();

} // namespace sandpit::cli
