// plan_root: the sandbox filesystem as data. Nothing here touches the system.
#include "sandpit/jail/mounts.hpp"

#include "sandpit/jail/spec.hpp"

#include <fmt/format.h>
#include <sys/mount.h>

namespace sandpit::jail {
namespace {

constexpr unsigned long k_ro = MS_RDONLY | MS_NOSUID | MS_NODEV;

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

MountStep step(StepKind kind, std::string target, std::string source = {}, unsigned long flags = 0,
               std::string data = {}, bool recursive = false, bool optional = false) {
  return MountStep{kind, std::move(target), std::move(source), flags, std::move(data), recursive, optional};
}

class Planner {
public:
  explicit Planner(std::string new_root) : m_root(std::move(new_root)) {}

  void add(MountStep step) { m_steps.push_back(std::move(step)); }
  void mkdir(const std::string& path) { add(step(StepKind::mkdir, at(path), {}, 0755)); }
  void bind(const std::string& source, const std::string& path, unsigned long remount_flags, bool optional = false) {
    auto b = step(StepKind::bind, at(path), source, MS_BIND | MS_REC, {}, true, optional);
    b.within = source == m_root || source.rfind(m_root + "/", 0) == 0 ? m_within_next : false;
    m_within_next = false;
    add(std::move(b));
    add(step(StepKind::remount, at(path), {}, remount_flags, {}, true, optional));
  }
  void tmpfs(const std::string& path, unsigned long flags, std::string data) {
    add(step(StepKind::tmpfs, at(path), "tmpfs", flags, std::move(data)));
  }
  void file(const std::string& path, std::string content) { add(step(StepKind::write_file, at(path), std::move(content))); }
  void symlink(const std::string& target, const std::string& path) { add(step(StepKind::symlink, at(path), target)); }
  std::string at(const std::string& path) const { return path == "/" ? m_root : m_root + path; }
  // The next bind's source is a path in the new root (made by an earlier step), not a host path.
  Planner& within() {
    m_within_next = true;
    return *this;
  }
  std::vector<MountStep> take() { return std::move(m_steps); }

private:
  std::string m_root;
  std::vector<MountStep> m_steps;
  bool m_within_next = false;
};

void plan_system_binds(Planner& p, const std::vector<HostEntry>& binds) {
  for (const auto& entry : binds) {
    switch (entry.type) {
    case HostEntry::Type::missing: break;
    case HostEntry::Type::directory:
      p.mkdir(entry.path);
      p.bind(entry.path, entry.path, k_ro);
      break;
    case HostEntry::Type::file:
      p.mkdir(parent_of(entry.path));
      p.add(step(StepKind::touch, p.at(entry.path)));
      p.bind(entry.path, entry.path, k_ro);
      break;
    case HostEntry::Type::symlink:
      p.mkdir(parent_of(entry.path));
      p.symlink(entry.link_target, entry.path);
      break;
    }
  }
}

void plan_dev(Planner& p, const RootSetup& s) {
  p.mkdir("/dev");
  p.tmpfs("/dev", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64");
  for (const char* node : {"null", "zero", "full", "random", "urandom"}) {
    std::string path = std::string("/dev/") + node;
    p.add(step(StepKind::touch, p.at(path)));
    p.bind(path, path, MS_NOSUID | MS_NOEXEC);
  }
  p.symlink("/proc/self/fd", "/dev/fd");
  p.symlink("/proc/self/fd/0", "/dev/stdin");
  p.symlink("/proc/self/fd/1", "/dev/stdout");
  p.symlink("/proc/self/fd/2", "/dev/stderr");
  p.mkdir("/dev/shm");
  p.tmpfs("/dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC,
          fmt::format("mode=1777,size={},nr_inodes={}", std::min<std::uint64_t>(s.tmp_size, 64ULL << 20), 1024));
  p.add(step(StepKind::remount, p.at("/dev"), {}, MS_RDONLY | MS_NOSUID | MS_NOEXEC));
}

void plan_proc(Planner& p) {
  p.mkdir("/proc");
  p.add(step(StepKind::proc, p.at("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  // No nested user namespaces, even if seccomp were bypassed (bwrap --disable-userns).
  p.add(step(StepKind::write_optional, p.at("/proc/sys/user/max_user_namespaces"), "0"));
  for (const char* path : {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs"}) {
    p.within().bind(p.at(path), path, k_ro | MS_NOEXEC, true);
  }
}

void plan_etc(Planner& p, const RootSetup& s) {
  p.mkdir("/etc");
  p.file("/etc/passwd", fmt::format("root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                    "{1}:x:{0}:{0}:sandpit sandbox:{2}:/bin/bash\n"
                                    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                                    k_inside_id, s.user_name, s.home.empty() ? "/workspace" : s.home));
  p.file("/etc/group", fmt::format("root:x:0:\n{1}:x:{0}:\nnogroup:x:65534:\n", k_inside_id, s.user_name));
  p.file("/etc/hostname", s.hostname + "\n");
  p.file("/etc/hosts", fmt::format("127.0.0.1 localhost {0}\n::1 localhost ip6-localhost {0}\n", s.hostname));
}

} // namespace

std::vector<MountStep> plan_root(const RootSetup& s, const std::string& new_root) {
  Planner p(new_root);
  p.add(step(StepKind::make_private, "/", {}, MS_REC | MS_PRIVATE));
  p.add(step(StepKind::tmpfs, new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096"));
  // A bind under /tmp (a wheel folder in a temporary directory, say) goes on the sandbox's own /tmp, after it.
  std::vector<HostEntry> early, under_tmp;
  for (const auto& entry : s.ro_binds) (entry.path.rfind("/tmp/", 0) == 0 ? under_tmp : early).push_back(entry);
  plan_system_binds(p, early);
  p.mkdir("/workspace");
  p.bind(s.workspace_source, "/workspace", MS_NOSUID | MS_NODEV);
  if (!s.home.empty()) {
    p.mkdir(s.home);
    p.bind(s.workspace_source, s.home, MS_NOSUID | MS_NODEV);
  }
  if (!s.persist_source.empty()) {
    p.mkdir("/persist");
    p.bind(s.persist_source, "/persist", MS_NOSUID | MS_NODEV);
  }
  p.mkdir("/tmp");
  p.tmpfs("/tmp", MS_NOSUID | MS_NODEV, fmt::format("mode=1777,size={},nr_inodes={}", s.tmp_size, s.tmp_inodes));
  plan_system_binds(p, under_tmp);
  plan_dev(p, s);
  plan_proc(p);
  plan_etc(p, s);
  p.add(step(StepKind::remount, new_root, {}, MS_RDONLY | MS_NOSUID | MS_NODEV));
  p.add(step(StepKind::pivot_root, new_root));
  return p.take();
}

std::string MountStep::describe(const std::string& new_root) const {
  std::string where = target;
  if (where.rfind(new_root, 0) == 0) where = where.size() == new_root.size() ? "/" : where.substr(new_root.size());
  switch (kind) {
  case StepKind::make_private: return "make mounts private";
  case StepKind::tmpfs: return fmt::format("mount tmpfs on {}", where);
  case StepKind::mkdir: return fmt::format("mkdir {}", where);
  case StepKind::touch: return fmt::format("create {}", where);
  case StepKind::symlink: return fmt::format("symlink {}", where);
  case StepKind::bind: return fmt::format("bind {} on {}", source, where);
  case StepKind::remount: return fmt::format("remount {}{}", where, (flags & MS_RDONLY) != 0 ? " read-only" : "");
  case StepKind::proc: return fmt::format("mount {}", where);
  case StepKind::write_file:
  case StepKind::write_optional: return fmt::format("write {}", where);
  case StepKind::pivot_root: return "pivot_root";
  }
  return "mount step";
}

} // namespace sandpit::jail
