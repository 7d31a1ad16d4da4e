// Session: one jail for one workspace and the executions that run in it, one at a time.
#pragma once

#include "sandpit/config/config.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/jail/jail.hpp"
#include "sandpit/session/execution.hpp"

#include <memory>
#include <string>
#include <vector>

namespace sandpit::session {

// The fixed environment every sandboxed process starts with; nothing of the host's enters.
std::vector<std::string> sandbox_environment();

class Session {
public:
  // Starts the jail for `workspace`. Throws Error(sandbox_setup) naming the step that failed.
  static std::unique_ptr<Session> start(const config::Config& config, const Workspace& workspace);

  // Runs one execution to completion (or timeout, or output limit), streaming output to `sink`.
  ExecResult execute(const ExecRequest& request, OutputSink& sink);

  const std::string& name() const { return m_name; }
  const jail::Jail& jail() const { return *m_jail; }

private:
  Session(const config::Config& config, std::unique_ptr<jail::Jail> jail, std::string name);
  std::vector<std::string> command_for(kernels::Language language) const;

  config::Config m_config;
  std::unique_ptr<jail::Jail> m_jail;
  std::string m_name;
  int m_execution_count = 0;
};

} // namespace sandpit::session
