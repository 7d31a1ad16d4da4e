// cgroup v2: a child group in a delegated, writable subtree (e.g. a systemd user service).
#include "sandpit/jail/cgroup.hpp"

#include "sandpit/sys/fd.hpp"

#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace sandpit::jail {
namespace {

// The cgroup2 mount point, from /proc/self/mountinfo.
std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
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

bool has_words(const std::string& text, std::initializer_list<const char*> words) {
  std::istringstream in(text);
  std::string w, all = " ";
  while (in >> w) all += w + " ";
  for (const char* word : words) {
    if (all.find(std::string(" ") + word + " ") == std::string::npos) return false;
  }
  return true;
}

std::uint64_t event_count(const std::string& path, const std::string& key) {
  auto text = sys::read_file(path);
  if (!text) return 0;
  std::istringstream in(*text);
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

class CgroupV2 final : public Cgroup {
public:
  explicit CgroupV2(std::string dir) : m_dir(std::move(dir)) {}
  ~CgroupV2() override { destroy(); }
  std::string_view kind() const override { return "cgroup v2"; }

  Result<void> add(pid_t pid) override { return sys::write_file(m_dir + "/cgroup.procs", std::to_string(pid)); }

  std::uint64_t oom_kills() const override { return event_count(m_dir + "/memory.events", "oom_kill"); }

  CgroupUsage usage() const override {
    CgroupUsage u;
    u.oom_kills = oom_kills();
    if (auto now = sys::read_file(m_dir + "/memory.current")) u.memory_now = std::strtoull(now->c_str(), nullptr, 10);
    u.pids_limited = event_count(m_dir + "/pids.events", "max") > 0;
    if (auto peak = sys::read_file(m_dir + "/memory.peak")) u.memory_peak = std::strtoull(peak->c_str(), nullptr, 10);
    return u;
  }

  void kill_all() override { (void)sys::write_file(m_dir + "/cgroup.kill", "1"); }

  void destroy() override {
    if (m_dir.empty()) return;
    kill_all();
    remove_cgroup_dir(m_dir);
    m_dir.clear();
  }

private:
  std::string m_dir;
};

} // namespace

Result<std::unique_ptr<Cgroup>> create_cgroup_v2(const std::string& name, const config::Limits& limits) {
  std::string mount = cgroup2_mount();
  std::string self = own_path();
  if (mount.empty() || self.empty()) return Failure{"not mounted", 0, {}};
  std::string base = mount + (self == "/" ? "" : self);
  auto controllers = sys::read_file(base + "/cgroup.controllers");
  if (!controllers || !has_words(*controllers, {"memory", "pids"})) {
    return Failure{base, 0, "memory and pids controllers are not delegated here"};
  }
  if (::access((base + "/cgroup.subtree_control").c_str(), W_OK) != 0) return errno_failure(base);
  auto enabled = sys::read_file(base + "/cgroup.subtree_control");
  if (!enabled || !has_words(*enabled, {"memory", "pids"})) {
    // No process may live in a group that delegates controllers: move this
    // process into a leaf of its own first, then enable them.
    std::string leaf = base + "/sandpit-client-" + std::to_string(::getpid());
    if (::mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) return errno_failure("mkdir " + leaf);
    if (auto r = sys::write_file(leaf + "/cgroup.procs", "0"); !r) return r.failure();
    std::string want = has_words(*controllers, {"cpu"}) ? "+memory +pids +cpu" : "+memory +pids";
    if (auto r = sys::write_file(base + "/cgroup.subtree_control", want); !r) return r.failure();
  }
  std::string dir = base + "/sandpit-" + name;
  if (::mkdir(dir.c_str(), 0755) != 0) return errno_failure("mkdir " + dir);
  auto group = std::make_unique<CgroupV2>(dir);
  auto set = [&](const char* knob, const std::string& value) { return sys::write_file(dir + "/" + knob, value); };
  if (auto r = set("memory.max", std::to_string(limits.memory)); !r) return r.failure();
  (void)set("memory.swap.max", "0");
  if (auto r = set("pids.max", std::to_string(limits.pids)); !r) return r.failure();
  if (limits.cpu > 0) (void)set("cpu.max", fmt::format("{} 100000", static_cast<long>(limits.cpu * 100000)));
  return std::unique_ptr<Cgroup>(std::move(group));
}

} // namespace sandpit::jail
