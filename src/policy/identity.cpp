#include "sandpit/policy/policy.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

namespace sandpit::policy {
namespace {

// The password database's name for the effective uid. Not $USER or $LOGNAME:
// anyone can set those, and the admin list must not be one export away.
std::string login_name() {
  const uid_t uid = geteuid();
  struct passwd entry {};
  struct passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr && found->pw_name != nullptr) {
    return found->pw_name;
  }
  return fmt::format("uid {}", uid);
}

} // namespace

Identity identify(const config::Config& config) {
  Identity who;
  who.user = config.identity_user.empty() ? login_name() : config.identity_user;
  who.admin = std::find(config.admins.begin(), config.admins.end(), who.user) != config.admins.end();
  return who;
}

bool may_exec(const config::Config& config, const Identity& who) {
  return config.exec_access == config::ExecAccess::everyone || who.admin;
}

bool may_read_all(const config::Config& config, const Identity& who) { return config.audit_all || who.admin; }

} // namespace sandpit::policy
