#include "watcher.hpp"

#include "sandpit/core/error.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sandpit::serve {
namespace {

constexpr std::size_t k_max_watches = 1000;
constexpr std::uint32_t k_mask = IN_CREATE | IN_MOVED_TO | IN_MODIFY | IN_DELETE | IN_DELETE_SELF | IN_MOVED_FROM | IN_MOVE_SELF | IN_ATTRIB;

// A subfolder opened beneath its parent, never through a symlink or onto another mount.
int open_child(int parent, const char* name) {
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  return static_cast<int>(::syscall(SYS_openat2, parent, name, &how, sizeof how));
}

} // namespace

Watcher::Watcher(int dir, bool recursive) : m_inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)), m_recursive(recursive) {
  if (!m_inotify.valid()) throw Error(ExitCode::sandbox_setup, "inotify", std::strerror(errno));
  int self = open_child(dir, ".");
  if (self < 0) throw Error(ExitCode::sandbox_setup, "watch", std::strerror(errno));
  add(self, "");
}

void Watcher::add(int dir, const std::string& relative) {
  sys::Fd owned(dir);
  if (m_paths.size() >= k_max_watches) return;
  const auto where = "/proc/self/fd/" + std::to_string(owned.get());
  int wd = ::inotify_add_watch(m_inotify.get(), where.c_str(), k_mask);
  if (wd < 0) {
    if (relative.empty()) throw Error(ExitCode::sandbox_setup, "watch", std::strerror(errno));
    return;
  }
  m_paths[wd] = relative;
  if (m_recursive) {
    int listing = ::openat(owned.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (DIR* d = listing >= 0 ? ::fdopendir(listing) : nullptr) {
      std::vector<std::string> names;
      while (auto* e = ::readdir(d)) {
        if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
      }
      ::closedir(d);
      for (const auto& name : names) {
        int child = open_child(owned.get(), name.c_str());
        if (child >= 0) add(child, relative.empty() ? name : relative + "/" + name);
      }
    } else if (listing >= 0) {
      ::close(listing);
    }
  }
  m_dirs[wd] = std::move(owned);
}

std::vector<FsEvent> Watcher::take() {
  std::vector<FsEvent> out;
  alignas(inotify_event) char buf[16384];
  while (true) {
    ssize_t n = ::read(m_inotify.get(), buf, sizeof buf);
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* e = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + e->len;
      if ((e->mask & IN_Q_OVERFLOW) != 0) {
        out.push_back({"", "EVENT_TYPE_REMOVE"});
        continue;
      }
      auto it = m_paths.find(e->wd);
      if (it == m_paths.end()) continue;
      const std::string leaf = e->len > 0 ? std::string(e->name) : std::string();
      const std::string name = it->second.empty() ? leaf : leaf.empty() ? it->second : it->second + "/" + leaf;
      // One inotify event may carry several of E2B's, in envd's order.
      if ((e->mask & (IN_CREATE | IN_MOVED_TO)) != 0) out.push_back({name, "EVENT_TYPE_CREATE"});
      if ((e->mask & (IN_MOVED_FROM | IN_MOVE_SELF)) != 0) out.push_back({name, "EVENT_TYPE_RENAME"});
      if ((e->mask & IN_ATTRIB) != 0) out.push_back({name, "EVENT_TYPE_CHMOD"});
      if ((e->mask & IN_MODIFY) != 0) out.push_back({name, "EVENT_TYPE_WRITE"});
      if ((e->mask & (IN_DELETE | IN_DELETE_SELF)) != 0) out.push_back({name, "EVENT_TYPE_REMOVE"});
      if (m_recursive && (e->mask & (IN_CREATE | IN_MOVED_TO)) != 0 && (e->mask & IN_ISDIR) != 0) {
        if (auto parent = m_dirs.find(e->wd); parent != m_dirs.end()) {
          int child = open_child(parent->second.get(), e->name);
          if (child >= 0) add(child, name);
        }
      }
      if ((e->mask & IN_IGNORED) != 0) {
        m_paths.erase(e->wd);
        m_dirs.erase(e->wd);
      }
    }
  }
  return out;
}

} // namespace sandpit::serve
