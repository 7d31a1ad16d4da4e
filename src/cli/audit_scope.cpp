#include "audit_scope.hpp"

#include "sandpit/audit/time.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/kernels/language.hpp"
#include "sandpit/policy/policy.hpp"
#include "sandpit/session/admission.hpp"

#include <fmt/format.h>

namespace sandpit::cli {
namespace {

std::int64_t parse_when(const std::string& flag, const std::string& text) {
  auto ms = audit::parse_time(text, audit::system_now_ms());
  if (!ms) {
    throw Error(ExitCode::usage, fmt::format("{} {}", flag, text),
                "expected a time like 2025-01-04, 2025-01-04T19:30Z, or a duration ago like 2h or 7d");
  }
  return *ms;
}

} // namespace

void AuditFilter::add_to(CLI::App& app) {
  auto* user_option = app.add_option("-u,--user", user, "Records of this user (admins only, unless it is you)")->type_name("USER");
  app.add_flag("-a,--all", all, "Records of every user (admins only)")->excludes(user_option);
  app.add_option("--since", since, "From this time on: 2025-01-04, 2025-01-04T19:30Z, or ago like 2h, 7d")->type_name("TIME");
  app.add_option("--until", until, "Before this time (same forms as --since)")->type_name("TIME");
  app.add_option("-l,--language", language, "Only this language: python, javascript, typescript or bash")->type_name("LANG");
}

audit::Query AuditFilter::query(Context& context, std::string_view command) const {
  const auto& config = context.config();
  const auto who = policy::identify(config);
  audit::Query q;
  if (!since.empty()) q.since_ms = parse_when("--since", since);
  if (!until.empty()) q.until_ms = parse_when("--until", until);
  if (!language.empty()) {
    auto l = kernels::parse_language(language);
    if (!l) throw Error(ExitCode::usage, "--language " + language, fmt::format("unknown language (use {})", kernels::language_list()));
    q.language = std::string(kernels::name_of(*l));
  }
  const bool others = all || (!user.empty() && user != who.user);
  if (others && !policy::may_read_all(config, who)) {
    audit::Record record;
    record.user = who.user;
    record.command = std::string(command);
    record.exit_code = static_cast<int>(ExitCode::denied);
    record.denied = all ? "read every user's records" : fmt::format("read {}'s records", user);
    if (auto warning = session::append_audit(config, std::move(record)); !warning.empty()) fmt::print(stderr, "sandpit: {}\n", warning);
    throw Error(ExitCode::denied, "access denied",
                fmt::format("only admins may read other users' records (you are {}; see identity.admins)", who.user));
  }
  if (!all) q.user = user.empty() ? who.user : user;
  return q;
}

} // namespace sandpit::cli
