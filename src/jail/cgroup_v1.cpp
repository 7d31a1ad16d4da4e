// cgroup v1: one directory per controller hierarchy (memory, pids, cpu), used when running as root.
#include "sandpit/jail/cgroup.hpp"

#include "sandpit/sys/fd.hpp"

#include <csignal>
#include <fmt/format.h>
#include <mutex>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace sandpit::jail {
namespace {

constexpr const char* k_root = "/sys/fs/cgroup";

std::uint64_t read_number(const std::string& path, const std::string& field = {}) {
  auto text = sys::read_file(path);
  if (!text) return 0;
  std::istringstream in(*text);
  if (field.empty()) {
    std::uint64_t v = 0;
    in >> v;
    return v;
  }
  std::string key;
  std::uint64_t v = 0;
  while (in >> key >> v) {
    if (key == field) return v;
  }
  return 0;
}

class CgroupV1 final : public Cgroup {
public:
  explicit CgroupV1(std::vector<std::string> dirs) : m_dirs(std::move(dirs)) {}
  ~CgroupV1() override { destroy(); }

  std::string_view kind() const override { return "cgroup v1"; }

  Result<void> add(pid_t pid) override {
    for (const auto& dir : m_dirs) {
      auto r = sys::write_file(dir + "/cgroup.procs", std::to_string(pid));
      if (!r) return r;
    }
    return {};
  }

  std::vector<std::string> self_attach_files() const override {
    std::vector<std::string> files;
    for (const auto& dir : m_dirs) files.push_back(dir + "/tasks");
    return files;
  }

  std::uint64_t oom_kills() const override { return read_number(m_dirs[0] + "/memory.oom_control", "oom_kill"); }

  // cpu.idle (Linux 5.15): the group runs as SCHED_IDLE, so any other task that wakes takes its CPU at
  // once; cpu.shares 2 (the least, 1024 the default) where the kernel has no cpu.idle.
  void set_background(bool background) override {
    if (m_dirs.size() <= 2) return;
    (void)sys::write_file(m_dirs[2] + "/cpu.idle", background ? "1" : "0");
    (void)sys::write_file(m_dirs[2] + "/cpu.shares", background ? "2" : "1024");
  }

  CgroupUsage usage() const override {
    CgroupUsage u;
    std::string memory = m_dirs[0];
    u.oom_kills = oom_kills();
    u.memory_peak = read_number(memory + "/memory.max_usage_in_bytes");
    u.memory_now = read_number(memory + "/memory.usage_in_bytes");
    u.pids_limited = read_number(m_dirs[1] + "/pids.events", "max") > 0;
    return u;
  }

  void kill_all() override {
    // v1 has no cgroup.kill; the jail's pid namespace dies with its init, so
    // this only mops up stragglers before rmdir.
    auto procs = sys::read_file(m_dirs[1] + "/cgroup.procs");
    if (!procs) return;
    std::istringstream in(*procs);
    pid_t pid;
    while (in >> pid) ::kill(pid, SIGKILL);
  }

  void destroy() override {
    for (const auto& dir : m_dirs) remove_cgroup_dir(dir);
    m_dirs.clear();
  }

private:
  std::vector<std::string> m_dirs; // memory, pids, cpu
};

Result<std::string> make_group(const std::string& controller, const std::string& name) {
  std::string base = fmt::format("{}/{}/sandpit", k_root, controller);
  if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) return errno_failure("mkdir " + base);
  std::string dir = base + "/" + name;
  if (::mkdir(dir.c_str(), 0755) != 0) return errno_failure("mkdir " + dir);
  return dir;
}

} // namespace

Result<std::unique_ptr<Cgroup>> create_cgroup_v1(const std::string& name, const config::Limits& limits) {
  for (const char* controller : {"memory", "pids", "cpu"}) {
    std::string probe = fmt::format("{}/{}/cgroup.procs", k_root, controller);
    if (::access(probe.c_str(), W_OK) != 0) return errno_failure(fmt::format("{} controller", controller));
  }
  // Once per process: what earlier owners killed with SIGKILL left behind.
  static std::once_flag swept;
  std::call_once(swept, [] {
    for (const char* controller : {"memory", "pids", "cpu"}) remove_stale_groups(fmt::format("{}/{}/sandpit", k_root, controller), "");
  });
  std::vector<std::string> dirs;
  for (const char* controller : {"memory", "pids", "cpu"}) {
    auto dir = make_group(controller, name);
    if (!dir) {
      for (const auto& d : dirs) ::rmdir(d.c_str());
      return dir.failure();
    }
    dirs.push_back(*dir);
  }
  auto group = std::make_unique<CgroupV1>(dirs);
  const std::string memory = std::to_string(limits.memory);
  std::vector<std::pair<std::string, std::string>> knobs = {
      {dirs[0] + "/memory.limit_in_bytes", memory},
      {dirs[1] + "/pids.max", std::to_string(limits.pids)},
  };
  // Without swap accounting the sandbox could swap past its limit; with it, cap RAM+swap too.
  if (::access((dirs[0] + "/memory.memsw.limit_in_bytes").c_str(), W_OK) == 0) {
    knobs.emplace_back(dirs[0] + "/memory.memsw.limit_in_bytes", memory);
  }
  knobs.emplace_back(dirs[0] + "/memory.swappiness", "0");
  if (limits.cpu > 0) {
    knobs.emplace_back(dirs[2] + "/cpu.cfs_period_us", "100000");
    knobs.emplace_back(dirs[2] + "/cpu.cfs_quota_us", std::to_string(static_cast<long>(limits.cpu * 100000)));
  }
  for (const auto& [path, value] : knobs) {
    auto r = sys::write_file(path, value);
    if (!r && path.find("swappiness") == std::string::npos) return r.failure();
  }
  return std::unique_ptr<Cgroup>(std::move(group));
}

} // namespace sandpit::jail
