#include "transfer.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/session/admission.hpp"
#include "sandpit/util/units.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sandpit::cli {
namespace {

using nlohmann::ordered_json;

// Names from the sandbox may hold control characters: never print them raw.
std::string printable(const std::string& text) {
  auto quoted = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

ordered_json files_json(const files::Report& report) {
  ordered_json list = ordered_json::array();
  for (const auto& f : report.files) list.push_back({{"host", f.host}, {"sandbox", f.sandbox}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  return list;
}

void print_report(std::string_view command, const files::Report& report, bool json) {
  for (const auto& s : report.skipped) fmt::print(stderr, "sandpit: skipped {}: {}\n", printable(s.path), printable(s.why));
  if (json) {
    ordered_json skipped = ordered_json::array();
    for (const auto& s : report.skipped) skipped.push_back({{"path", s.path}, {"why", s.why}});
    fmt::print("{}\n", ordered_json{{"files", files_json(report)}, {"bytes", report.bytes()}, {"skipped", skipped}}
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  const bool up = command == "upload" || command == "import";
  if (report.files.size() <= 20) {
    for (const auto& f : report.files) {
      fmt::print("{} {} -> {} ({})\n", up ? "copied in" : "copied out", printable(up ? f.host : f.sandbox), printable(up ? f.sandbox : f.host),
                 units::format_size(f.bytes));
    }
  } else {
    fmt::print("{} {} files ({})\n", up ? "copied in" : "copied out", report.files.size(), units::format_size(report.bytes()));
  }
}

} // namespace

ExitCode run_transfer(Context& context, std::string_view command, const std::string& from, const std::string& to,
                      const TransferOptions& options,
                      const std::function<files::Report(const files::Roots&, const files::Transfer&)>& copy) {
  const auto& config = context.config();
  auto workspace = Workspace::resolve(options.workspace);
  files::Transfer transfer{options.recursive ? files::Recursive::yes : files::Recursive::no,
                           options.force ? files::Overwrite::yes : files::Overwrite::no, config.limits.transfer, {}};
  auto caller = session::caller_for(config, std::string(command));
  auto report = session::audited_transfer(config, caller, workspace, {from, to}, transfer,
                                          options.volume_only ? session::Areas::volume_only : session::Areas::workspace, copy);
  print_report(command, report, options.json);
  return ExitCode::success;
}

} // namespace sandpit::cli
