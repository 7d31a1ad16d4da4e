// FakeCgroupFs: an in-memory cgroup2 tree with the kernel rules sandpit relies on, and a fake systemd manager.
#pragma once

#include "sandpit/jail/cgroup_v2.hpp"

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fake {

using sandpit::Failure;
using sandpit::Result;

inline std::string parent(const std::string& path) { return path.substr(0, path.rfind('/')); }
inline std::string base(const std::string& path) { return path.substr(path.rfind('/') + 1); }

inline std::set<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::set<std::string> out;
  for (std::string w; in >> w;) out.insert(w);
  return out;
}

inline std::string joined(const std::set<std::string>& set) {
  std::string out;
  for (const auto& w : set) out += (out.empty() ? "" : " ") + w;
  return out;
}

// Rules: a new group's controllers are its parent's subtree_control; knobs exist only for
// those; only an owned group's files are writable; no process may live in a non-root group
// that enables controllers for its children; rmdir needs an empty group without children;
// cgroup.kill empties the group.
class FakeCgroupFs final : public sandpit::jail::CgroupFs {
public:
  explicit FakeCgroupFs(std::string mount = "/sys/fs/cgroup") : m_mount(std::move(mount)) {
    m_dirs[m_mount] = Group{"cpuset cpu io memory hugetlb pids rdma misc", {}, {}, false};
  }

  // Setup, bypassing the rules: a group (parents must exist) with these controllers available.
  void group(const std::string& relative, const std::string& controllers, bool owned, const std::string& subtree = "") {
    m_dirs[m_mount + relative] = Group{controllers, words(subtree), {}, owned};
    make_knobs(m_mount + relative);
  }
  void delegate(const std::string& relative) { m_delegated.insert(m_mount + relative); }
  void put(int pid, const std::string& relative) {
    for (auto& [path, g] : m_dirs) g.procs.erase(pid);
    m_dirs.at(m_mount + relative).procs.insert(pid);
  }
  // Where `pid` is, relative to the mount ("" if nowhere).
  std::string where(int pid) const {
    for (const auto& [path, g] : m_dirs) {
      if (g.procs.count(pid) != 0) return path == m_mount ? "/" : path.substr(m_mount.size());
    }
    return {};
  }
  bool exists(const std::string& relative) const { return m_dirs.count(m_mount + relative) != 0; }
  std::string knob(const std::string& relative, const std::string& name) const {
    return m_files.count(m_mount + relative + "/" + name) ? m_files.at(m_mount + relative + "/" + name) : "<missing>";
  }
  std::string subtree(const std::string& relative) const { return joined(m_dirs.at(m_mount + relative).subtree); }
  void set_knob(const std::string& relative, const std::string& name, const std::string& value) {
    m_files[m_mount + relative + "/" + name] = value;
  }
  std::vector<std::string> killed; // groups whose cgroup.kill was written (relative)

  Result<std::string> read(const std::string& path) const override {
    auto dir = m_dirs.find(parent(path));
    if (dir == m_dirs.end()) return Failure{"open " + path, ENOENT, {}};
    const auto name = base(path);
    if (name == "cgroup.controllers") return dir->second.controllers + "\n";
    if (name == "cgroup.subtree_control") return joined(dir->second.subtree) + "\n";
    if (name == "cgroup.procs") {
      std::string out;
      for (int pid : dir->second.procs) out += std::to_string(pid) + "\n";
      return out;
    }
    auto file = m_files.find(path);
    if (file == m_files.end()) return Failure{"open " + path, ENOENT, {}};
    return file->second;
  }

  Result<void> write(const std::string& path, std::string_view data) override {
    const auto dir_path = parent(path);
    auto dir = m_dirs.find(dir_path);
    const auto name = base(path);
    const bool control = name == "cgroup.procs" || name == "cgroup.subtree_control";
    if (dir == m_dirs.end() || (!control && m_files.count(path) == 0)) return Failure{"open " + path, ENOENT, {}};
    if (!dir->second.owned) return Failure{"open " + path, EACCES, {}};
    const std::string text(data);
    if (name == "cgroup.procs") {
      if (dir_path != m_mount && !dir->second.subtree.empty()) return Failure{"write " + path, EBUSY, {}};
      put(std::stoi(text), dir_path == m_mount ? "/" : dir_path.substr(m_mount.size()));
      return {};
    }
    if (name == "cgroup.subtree_control") {
      if (dir_path != m_mount && !dir->second.procs.empty()) return Failure{"write " + path, EBUSY, {}};
      for (const auto& w : words(text)) {
        const auto controller = w.substr(1);
        if (words(dir->second.controllers).count(controller) == 0) return Failure{"write " + path, ENOENT, {}};
        if (w[0] == '+') dir->second.subtree.insert(controller);
        else dir->second.subtree.erase(controller);
      }
      return {};
    }
    if (name == "cgroup.kill") {
      dir->second.procs.clear();
      killed.push_back(dir_path.substr(m_mount.size()));
    }
    m_files[path] = text;
    return {};
  }

  Result<void> make_dir(const std::string& path) override {
    auto up = m_dirs.find(parent(path));
    if (up == m_dirs.end()) return Failure{"mkdir " + path, ENOENT, {}};
    if (m_dirs.count(path) != 0) return Failure{"mkdir " + path, EEXIST, {}};
    if (!up->second.owned) return Failure{"mkdir " + path, EACCES, {}};
    m_dirs[path] = Group{joined(up->second.subtree), {}, {}, true};
    make_knobs(path);
    return {};
  }

  Result<void> remove_dir(const std::string& path) override {
    auto dir = m_dirs.find(path);
    if (dir == m_dirs.end()) return Failure{"rmdir " + path, ENOENT, {}};
    const bool children = std::any_of(m_dirs.begin(), m_dirs.end(), [&](const auto& d) { return parent(d.first) == path; });
    if (!dir->second.procs.empty() || children) return Failure{"rmdir " + path, EBUSY, {}};
    m_dirs.erase(dir);
    for (auto it = m_files.begin(); it != m_files.end();) it = parent(it->first) == path ? m_files.erase(it) : std::next(it);
    return {};
  }

  bool writable(const std::string& path) const override {
    auto dir = m_dirs.find(parent(path));
    return dir != m_dirs.end() && dir->second.owned;
  }
  bool delegated(const std::string& path) const override { return m_delegated.count(path) != 0; }

private:
  struct Group {
    std::string controllers;
    std::set<std::string> subtree;
    std::set<int> procs;
    bool owned;
  };
  void make_knobs(const std::string& path) {
    const auto have = words(m_dirs.at(path).controllers);
    m_files[path + "/cgroup.kill"] = "";
    if (have.count("memory")) {
      for (const char* k : {"memory.max", "memory.swap.max"}) m_files[path + "/" + k] = "max";
      m_files[path + "/memory.current"] = m_files[path + "/memory.peak"] = "0";
      m_files[path + "/memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n";
    }
    if (have.count("pids")) {
      m_files[path + "/pids.max"] = "max";
      m_files[path + "/pids.events"] = "max 0\n";
    }
    if (have.count("cpu")) m_files[path + "/cpu.max"] = "max 100000";
  }

  std::string m_mount;
  std::map<std::string, Group> m_dirs;
  std::map<std::string, std::string> m_files;
  std::set<std::string> m_delegated;
};

// A systemd manager that makes the scope under `slice` (owned and delegated, as systemd
// does for Delegate=yes) and moves the process there, or refuses, or never moves it.
class FakeSystemd final : public sandpit::jail::SystemdManager {
public:
  FakeSystemd(FakeCgroupFs& fs, std::string slice) : m_fs(fs), m_slice(std::move(slice)) {}
  std::string_view name() const override { return "the systemd user manager"; }
  Result<void> start_delegated_scope(const std::string& unit, pid_t pid) override {
    asked.push_back(unit);
    if (!refusal.empty()) return Failure{"StartTransientUnit", 0, refusal};
    m_fs.group(m_slice + "/" + unit, m_fs.subtree(m_slice), true);
    m_fs.delegate(m_slice + "/" + unit);
    if (moves) m_fs.put(pid, m_slice + "/" + unit);
    return {};
  }
  std::vector<std::string> asked;
  std::string refusal;
  bool moves = true;

private:
  FakeCgroupFs& m_fs;
  std::string m_slice;
};

} // namespace fake
