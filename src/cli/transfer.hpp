// What upload and download share: the audit record of a transfer and how its report is printed.
#pragma once

#include "sandpit/cli/command.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/files/files.hpp"

#include <functional>
#include <string>

namespace sandpit::cli {

struct TransferOptions {
  std::string workspace;
  bool recursive = false;
  bool force = false;
  bool json = false;
  bool volume_only = false; // /persist alone: no workspace is touched
};

// Runs `copy`, audits the outcome (files, bytes, sha256, or the error), prints the report.
// `from` and `to` are the paths as the user gave them, for the record.
ExitCode run_transfer(Context& context, std::string_view command, const std::string& from, const std::string& to,
                      const TransferOptions& options,
                      const std::function<files::Report(const files::Roots&, const files::Transfer&)>& copy);

} // namespace sandpit::cli
