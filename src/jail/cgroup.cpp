#include "sandpit/jail/cgroup.hpp"

#include "sandpit/jail/cgroup_v2.hpp"
#include "sandpit/sys/fd.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <dirent.h>
#include <memory>
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

namespace {

// Whether `pid` has exited: no such process, or a zombie nobody reaped yet (a
// daemon killed with SIGKILL may stay one for a while under a lazy reaper).
bool exited(pid_t pid) {
  auto text = sys::read_file(fmt::format("/proc/{}/stat", pid));
  if (!text) return true;
  auto close = text->rfind(')'); // the command, in parentheses, may hold anything
  const char state = close != std::string::npos && close + 2 < text->size() ? (*text)[close + 2] : '?';
  return state == 'Z' || state == 'X';
}

// SIGKILLs what is left in a group whose owner died: the jail it held is orphaned, and
// rmdir refuses a group with processes. The pid namespace's init goes first, taking the rest.
void kill_members(const std::string& dir) {
  auto procs = sys::read_file(dir + "/cgroup.procs");
  if (!procs) return;
  std::string_view text = *procs;
  while (!text.empty()) {
    auto end = std::min(text.find('\n'), text.size());
    pid_t pid = 0;
    if (std::from_chars(text.data(), text.data() + end, pid).ec == std::errc() && pid > 0) ::kill(pid, SIGKILL);
    text.remove_prefix(std::min(end + 1, text.size()));
  }
}

} // namespace

void remove_stale_groups(const std::string& base, std::string_view prefix) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(base.c_str()), ::closedir);
  if (!dir) return;
  while (auto* entry = ::readdir(dir.get())) {
    std::string_view name = entry->d_name;
    if (entry->d_type != DT_DIR || !name.starts_with(prefix)) continue;
    name.remove_prefix(prefix.size());
    auto dash = std::min(name.find('-'), name.size());
    if (dash == 0) continue;
    pid_t pid = 0;
    if (std::from_chars(name.data(), name.data() + dash, pid).ptr != name.data() + dash || pid <= 0) continue;
    if (!exited(pid)) continue;
    const std::string group = base + "/" + entry->d_name;
    kill_members(group);
    remove_cgroup_dir(group); // retries while the killed processes leave
  }
}

void remove_cgroup_dir(const std::string& dir) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

} // namespace sandpit::jail
