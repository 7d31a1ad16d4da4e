// cgroup v2: the jail's group in a delegated cgroup, asked of systemd when this process has none.
#include "sandpit/jail/cgroup_v2.hpp"

#include <chrono>
#include "sandpit/jail/cgroup.hpp"

#include <fmt/format.h>
#include <mutex>
#include <sstream>
#include <thread>

namespace sandpit::jail {
namespace {

constexpr const char* k_leaf_prefix = "sandpit-client-";

bool has_words(const std::string& text, std::initializer_list<const char*> words) {
  std::istringstream in(text);
  std::string w, all = " ";
  while (in >> w) all += w + " ";
  for (const char* word : words) {
    if (all.find(std::string(" ") + word + " ") == std::string::npos) return false;
  }
  return true;
}

std::uint64_t number(const CgroupFs& fs, const std::string& path) {
  auto text = fs.read(path);
  return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
}

std::uint64_t event_count(const CgroupFs& fs, const std::string& path, const std::string& key) {
  auto text = fs.read(path);
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
  CgroupV2(CgroupFs& fs, std::string dir) : m_fs(fs), m_dir(std::move(dir)) {}
  ~CgroupV2() override { destroy(); }
  std::string_view kind() const override { return "cgroup v2"; }

  Result<void> add(pid_t pid) override { return m_fs.write(m_dir + "/cgroup.procs", std::to_string(pid)); }

  // The kernel counts OOM kills in the group in memory.events (oom_kill).
  std::uint64_t oom_kills() const override { return event_count(m_fs, m_dir + "/memory.events", "oom_kill"); }

  CgroupUsage usage() const override {
    CgroupUsage u;
    u.oom_kills = oom_kills();
    u.memory_now = number(m_fs, m_dir + "/memory.current");
    u.memory_peak = number(m_fs, m_dir + "/memory.peak");
    u.pids_limited = event_count(m_fs, m_dir + "/pids.events", "max") > 0;
    return u;
  }

  // cpu.idle (Linux 5.15): the group runs as SCHED_IDLE, so any other task that wakes takes its CPU at
  // once; cpu.weight 1 (the least, 100 the default) where the kernel has no cpu.idle. Both are absent
  // when the cpu controller is not delegated.
  void set_background(bool background) override {
    (void)m_fs.write(m_dir + "/cpu.idle", background ? "1" : "0");
    (void)m_fs.write(m_dir + "/cpu.weight", background ? "1" : "100");
  }

  // One write kills every process in the group, however fast it forks.
  void kill_all() override { (void)m_fs.write(m_dir + "/cgroup.kill", "1"); }

  void destroy() override {
    if (m_dir.empty()) return;
    kill_all();
    (void)m_fs.remove_dir(m_dir);
    m_dir.clear();
  }

private:
  CgroupFs& m_fs;
  std::string m_dir;
};

std::string join(const std::string& mount, const std::string& relative) { return mount + (relative == "/" ? "" : relative); }

std::string last_component(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The cgroup this process belongs to, above the leaf it may have moved into already
// (its own, or a parent's that it inherited by fork).
std::string base_of(const std::string& self) {
  if (last_component(self).rfind(k_leaf_prefix, 0) != 0) return self;
  auto parent = self.substr(0, self.rfind('/'));
  return parent.empty() ? "/" : parent;
}

std::string scope_name(pid_t pid) { return fmt::format("sandpit-{}.scope", pid); }

// Why the cgroup `relative` cannot hold our jails' groups; "" when it can.
std::string unusable(const V2Host& host, const std::string& relative) {
  const std::string dir = join(host.mount, relative);
  auto controllers = host.fs->read(dir + "/cgroup.controllers");
  if (!controllers) return controllers.failure().message();
  if (!has_words(*controllers, {"memory", "pids"})) {
    std::string listed = *controllers;
    while (!listed.empty() && listed.back() == '\n') listed.pop_back();
    return fmt::format("{}: the memory and pids controllers are not available there (cgroup.controllers: \"{}\")", dir, listed);
  }
  const bool ours = host.fs->delegated(dir) || last_component(relative) == scope_name(host.pid);
  if (host.systemd_init && !ours) return dir + ": systemd manages it and did not delegate it";
  if (!host.fs->writable(dir + "/cgroup.subtree_control") || !host.fs->writable(dir + "/cgroup.procs")) {
    return dir + ": not writable by this user (not delegated)";
  }
  return {};
}

// Asks systemd for a delegated scope holding this process and waits until we are in it.
Result<std::string> scope_from_systemd(V2Host& host, const std::string& why_here, std::string& how) {
  if (host.systemd == nullptr) return Failure{why_here + "; no systemd manager to ask for a delegated scope", 0, host.systemd_why_not};
  const std::string unit = scope_name(host.pid);
  const std::string manager(host.systemd->name());
  if (auto r = host.systemd->start_delegated_scope(unit, host.pid); !r) {
    return Failure{fmt::format("{}; {} refused a delegated scope", why_here, manager), 0, r.failure().message()};
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(host.scope_wait_ms);
  std::string self = host.self();
  while (last_component(self) != unit) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Failure{fmt::format("{}; {} did not move this process into {} within {} ms", why_here, manager, unit, host.scope_wait_ms), 0, {}};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    self = host.self();
  }
  if (auto why = unusable(host, self); !why.empty()) return Failure{"the scope " + unit + " from " + manager, 0, why};
  how = fmt::format("scope {} delegated by {}", unit, manager);
  return self;
}

// The cgroup (relative to the mount) whose children will be the jails' groups.
Result<std::string> place(V2Host& host, std::string& how) {
  if (host.mount.empty()) return Failure{"no cgroup2 filesystem is mounted", 0, {}};
  const std::string self = host.self();
  if (self.empty()) return Failure{"this process is in no cgroup v2 (/proc/self/cgroup has no 0:: line)", 0, {}};
  const std::string base = base_of(self);
  const std::string why = unusable(host, base);
  if (why.empty()) {
    const std::string dir = join(host.mount, base);
    how = host.systemd_init ? "the cgroup " + dir + ", which systemd delegated" : "the cgroup " + dir + ", writable here";
    return base;
  }
  return scope_from_systemd(host, why, how);
}

} // namespace

Result<V2Created> create_cgroup_v2(const std::string& name, const config::Limits& limits, V2Host& host) {
  std::string how;
  auto placed = place(host, how);
  if (!placed) return placed.failure();
  CgroupFs& fs = *host.fs;
  const std::string base = join(host.mount, *placed);
  auto enabled = fs.read(base + "/cgroup.subtree_control");
  if (!enabled || !has_words(*enabled, {"memory", "pids"})) {
    // No process may live in a group that hands controllers to its children:
    // move this process into a leaf of its own first, then enable them.
    const std::string leaf = base + "/" + k_leaf_prefix + std::to_string(host.pid);
    if (auto r = fs.make_dir(leaf); !r && r.failure().err != EEXIST) return r.failure();
    if (auto r = fs.write(leaf + "/cgroup.procs", std::to_string(host.pid)); !r) return r.failure();
    auto controllers = fs.read(base + "/cgroup.controllers");
    const bool cpu = controllers && has_words(*controllers, {"cpu"});
    if (auto r = fs.write(base + "/cgroup.subtree_control", cpu ? "+memory +pids +cpu" : "+memory +pids"); !r) return r.failure();
  }
  // Once per process: groups whose owner was killed with SIGKILL (systemd trims a
  // dead scope itself; a cgroup tree without systemd has nobody else to).
  static std::once_flag swept;
  std::call_once(swept, [&] {
    remove_stale_groups(base, "sandpit-");
    remove_stale_groups(base, k_leaf_prefix);
  });
  const std::string dir = base + "/sandpit-" + name;
  if (auto r = fs.make_dir(dir); !r) return r.failure();
  auto group = std::make_unique<CgroupV2>(fs, dir); // removes the directory if a knob fails below
  auto set = [&](const char* knob, const std::string& value) { return fs.write(dir + "/" + knob, value); };
  if (auto r = set("memory.max", std::to_string(limits.memory)); !r) return r.failure();
  (void)set("memory.swap.max", "0"); // absent without swap accounting
  if (auto r = set("pids.max", std::to_string(limits.pids)); !r) return r.failure();
  if (limits.cpu > 0) (void)set("cpu.max", fmt::format("{} 100000", static_cast<long>(limits.cpu * 100000)));
  return V2Created{std::move(group), how};
}

} // namespace sandpit::jail
