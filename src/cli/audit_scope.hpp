// Whose audit records a command may read, and the filters `audit` and `stats` share.
#pragma once

#include "sandpit/audit/reader.hpp"
#include "sandpit/cli/command.hpp"

#include <CLI/CLI.hpp>
#include <string>

namespace sandpit::cli {

struct AuditFilter {
  std::string user;
  bool all = false;
  std::string since;
  std::string until;
  std::string language;

  void add_to(CLI::App& app);
  // The query for the caller: their own records unless --user/--all and they may
  // read everyone's (admins, or access.audit_all). A refusal is audited, then
  // thrown as Error(denied); a bad time or language as Error(usage).
  audit::Query query(Context& context, std::string_view command) const;
};

} // namespace sandpit::cli
