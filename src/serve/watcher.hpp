// Watcher: inotify over a sandbox folder (and, recursive, its subfolders), reporting E2B's filesystem events.
#pragma once

#include "sandpit/sys/fd.hpp"

#include <map>
#include <string>
#include <vector>

namespace sandpit::serve {

struct FsEvent {
  std::string name; // relative to the watched folder: "a/b.txt"
  std::string type; // "EVENT_TYPE_CREATE", "_WRITE", "_REMOVE", "_RENAME", "_CHMOD"
};

class Watcher {
public:
  // Watches the folder open at `dir` (any fd of it; it is reopened O_PATH).
  // Throws Error when inotify refuses (too many watches).
  Watcher(int dir, bool recursive);
  int fd() const { return m_inotify.get(); }
  // What has happened since the last call (never blocks). An overflow of the kernel's queue is reported as one REMOVE of "".
  std::vector<FsEvent> take();

private:
  void add(int dir, const std::string& relative);

  sys::Fd m_inotify;
  bool m_recursive;
  std::map<int, std::string> m_paths; // watch descriptor -> folder, relative
  std::map<int, sys::Fd> m_dirs;      // watch descriptor -> the folder (O_PATH), to open new subfolders beneath
};

} // namespace sandpit::serve
