#include "sandpit/jail/rlimits.hpp"

#include <array>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string_view>

namespace sandpit::jail {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 5> k_names{{
    {"nofile", RLIMIT_NOFILE}, {"fsize", RLIMIT_FSIZE}, {"core", RLIMIT_CORE}, {"nproc", RLIMIT_NPROC}, {"data", RLIMIT_DATA}}};

} // namespace

std::vector<Rlimit> rlimits_from_json(const nlohmann::json& spec) {
  std::vector<Rlimit> out;
  for (const auto& [name, resource] : k_names) {
    if (auto it = spec.find(std::string(name)); it != spec.end() && it->is_number_integer() && *it >= 0) {
      out.push_back({resource, it->get<rlim_t>()});
    }
  }
  return out;
}

Result<void> apply_rlimits(const std::vector<Rlimit>& limits) {
  for (const auto& limit : limits) {
    rlimit value{limit.value, limit.value};
    rlimit current{};
    // Never raise a hard limit (that needs privilege); lower to it instead.
    if (::getrlimit(limit.resource, &current) == 0 && current.rlim_max != RLIM_INFINITY && current.rlim_max < limit.value) {
      value.rlim_cur = value.rlim_max = current.rlim_max;
    }
    if (::setrlimit(limit.resource, &value) != 0) return errno_failure(fmt::format("setrlimit({})", limit.resource));
  }
  return {};
}

} // namespace sandpit::jail
