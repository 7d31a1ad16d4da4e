#include "sandpit/jail/cgroup.hpp"

#include "sandpit/jail/cgroup_v2.hpp"

#include <cerrno>
#include <chrono>
#include <thread>
#include <unistd.h>

namespace sandpit::jail {

CgroupChoice create_cgroup(const std::string& name, const config::Limits& limits) {
  CgroupChoice choice;
  std::unique_ptr<SystemdManager> manager;
  auto host = probe_v2_host(manager);
  auto v2 = create_cgroup_v2(name, limits, host);
  if (v2) {
    choice.cgroup = std::move(v2->cgroup);
    choice.how = "cgroup v2: " + v2->how;
    return choice;
  }
  choice.why_not = "cgroup v2: " + v2.failure().message();
  if (::geteuid() != 0) {
    choice.why_not += "; cgroup v1: needs root";
    return choice;
  }
  auto v1 = create_cgroup_v1(name, limits);
  if (v1) {
    choice.cgroup = std::move(v1).value();
    choice.how = "cgroup v1 (as root)";
    return choice;
  }
  choice.why_not += "; cgroup v1: " + v1.failure().message();
  return choice;
}

void remove_cgroup_dir(const std::string& dir) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

} // namespace sandpit::jail
