// The outside world of cgroup v2: the kernel's cgroupfs, this process's place in it, and systemd.
#include "sandpit/jail/cgroup_v2.hpp"

#include "systemd_bus.hpp"

#include "sandpit/sys/fd.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <thread>
#include <unistd.h>

namespace sandpit::jail {
namespace {

class KernelCgroupFs final : public CgroupFs {
public:
  Result<std::string> read(const std::string& path) const override { return sys::read_file(path); }
  Result<void> write(const std::string& path, std::string_view data) override { return sys::write_file(path, data); }
  Result<void> make_dir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0) return errno_failure("mkdir " + path);
    return {};
  }
  Result<void> remove_dir(const std::string& path) override {
    // The kernel may still be draining the group's last processes.
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return {};
      if (errno != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return errno_failure("rmdir " + path);
  }
  bool writable(const std::string& path) const override { return ::access(path.c_str(), W_OK) == 0; }
  bool delegated(const std::string& path) const override {
    for (const char* name : {"trusted.delegate", "user.delegate"}) {
      char value[8] = {};
      if (::getxattr(path.c_str(), name, value, sizeof value - 1) > 0 && value[0] == '1') return true;
    }
    return false;
  }
};

// The cgroup2 mount point, from /proc/self/mountinfo.
std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(" - cgroup2 ") == std::string::npos) continue;
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    return mount_point;
  }
  return {};
}

// This process's cgroup v2 path ("0::/user.slice/...").
std::string own_path() {
  auto text = sys::read_file("/proc/self/cgroup");
  if (!text) return {};
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return {};
}

class BusManager final : public SystemdManager {
public:
  BusManager(std::string socket, bool system) : m_socket(std::move(socket)), m_system(system) {}
  std::string_view name() const override { return m_system ? "the systemd system manager" : "the systemd user manager"; }
  Result<void> start_delegated_scope(const std::string& unit, pid_t pid) override {
    static std::atomic<std::uint32_t> serial{1};
    const std::uint32_t mine = serial++;
    auto job = dbus::call(m_socket, dbus::start_transient_unit(unit, pid, m_system ? "sandpit.slice" : "", mine), mine, 5000);
    if (!job) return job.failure();
    return {};
  }

private:
  std::string m_socket;
  bool m_system;
};

} // namespace

CgroupFs& kernel_cgroupfs() {
  static KernelCgroupFs fs;
  return fs;
}

std::unique_ptr<SystemdManager> systemd_manager(std::string socket, bool system) {
  return std::make_unique<BusManager>(std::move(socket), system);
}

V2Host probe_v2_host(std::unique_ptr<SystemdManager>& manager) {
  V2Host host;
  host.fs = &kernel_cgroupfs();
  host.mount = cgroup2_mount();
  host.self = own_path;
  host.pid = ::getpid();
  // sd_booted(): systemd is the init when this folder exists.
  host.systemd_init = ::access("/run/systemd/system", F_OK) == 0;
  const bool root = ::geteuid() == 0;
  std::string socket;
  if (root) {
    socket = "/run/systemd/private";
  } else {
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    socket = (runtime && *runtime ? std::string(runtime) : "/run/user/" + std::to_string(::getuid())) + "/systemd/private";
  }
  struct stat st {};
  if (!host.systemd_init) {
    host.systemd_why_not = "not booted with systemd (/run/systemd/system is missing)";
  } else if (::stat(socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    host.systemd_why_not = root ? "no systemd manager socket at " + socket
                                : "no systemd user manager (" + socket + " is missing: log in, or 'loginctl enable-linger')";
  } else {
    manager = systemd_manager(socket, root);
    host.systemd = manager.get();
  }
  return host;
}

} // namespace sandpit::jail
