#include "sandpit/jail/user_ns.hpp"

#include "sandpit/jail/spec.hpp"
#include "sandpit/sys/fd.hpp"

#include <fmt/format.h>

namespace sandpit::jail {

IdMaps id_maps_for(uid_t euid, gid_t egid) {
  IdMaps maps;
  maps.root_mode = euid == 0;
  uid_t host_uid = maps.root_mode ? k_root_mode_host_id : euid;
  gid_t host_gid = maps.root_mode ? k_root_mode_host_id : egid;
  maps.uid_map = fmt::format("{} {} 1\n", k_inside_id, host_uid);
  maps.gid_map = fmt::format("{} {} 1\n", k_inside_id, host_gid);
  maps.deny_setgroups = !maps.root_mode;
  return maps;
}

Result<void> write_id_maps(pid_t pid, const IdMaps& maps) {
  std::string proc = fmt::format("/proc/{}/", pid);
  if (maps.deny_setgroups) {
    if (auto r = sys::write_file(proc + "setgroups", "deny"); !r) return r;
  }
  if (auto r = sys::write_file(proc + "uid_map", maps.uid_map); !r) return r;
  return sys::write_file(proc + "gid_map", maps.gid_map);
}

} // namespace sandpit::jail
