// The mount keeper (`sandpit __mount-keeper`): one per user who is not root. It owns a user+mount
// namespace in which it mounts each quota image with fuse2fs, once, for every process that asks.
//
// Why one keeper and not a fuse2fs per daemon: /persist's image is used by every session of the
// user at once, and a workspace's by its daemon, --fresh runs and file copies beside it. Two
// fuse2fs processes writing one ext4 image would corrupt it; one kernel superblock shared through
// a loop device is what root gets, and this is the FUSE equivalent.
//
// Protocol (SOCK_SEQPACKET at <state>/mounts/socket, 0600): a request is
// "mount\0" then "<size>\0<image>\0<dir>\0<lock file>\0" per area; the answer is "ok" with two fds (the
// namespaces: user, mount) or "fail\0<what>\0<why>". The connection is the lease: a mount is
// kept while any connection that asked for it is open, and the keeper exits when none is
// left. fuse2fs gets SIGTERM (it then unmounts, flushes and exits) when the last lease on
// its image ends, and by PR_SET_PDEATHSIG if the keeper itself dies.
#include "quota_backends.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/sys/unix_socket.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/capability.h>
#include <map>
#include <poll.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace sandpit::files {
namespace {

using Clock = std::chrono::steady_clock;

std::string fuse2fs_program() { return image::find_program({"/usr/bin/fuse2fs", "/usr/sbin/fuse2fs", "/bin/fuse2fs", "/sbin/fuse2fs"}); }

// The last non-empty line of a log, for an error message.
std::string last_line(const std::filesystem::path& log) {
  auto text = sys::read_file(log.string());
  if (!text) return {};
  std::string last, line;
  for (char c : *text) {
    if (c != '\n') {
      line += c;
      continue;
    }
    if (!line.empty()) last = line;
    line.clear();
  }
  return line.empty() ? last : line;
}

// Becomes root's equivalent in a user namespace of our own, mapped to our own uid and gid only.
Result<void> own_namespaces() {
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return errno_failure("unshare(CLONE_NEWUSER|CLONE_NEWNS)");
  if (auto r = sys::write_file("/proc/self/setgroups", "deny"); !r) return r;
  if (auto r = sys::write_file("/proc/self/uid_map", fmt::format("{0} {0} 1", uid)); !r) return r;
  return sys::write_file("/proc/self/gid_map", fmt::format("{0} {0} 1", gid));
}

// In the forked child, before exec: fuse2fs keeps CAP_SYS_ADMIN (in our namespace only) across
// exec as an ambient capability, so its mount(2) succeeds without the setuid fusermount.
// fd 3 is the image's lock, held for as long as fuse2fs runs.
[[noreturn]] void exec_fuse2fs(pid_t keeper, int log_fd, int lock_fd, std::vector<char*>& argv) {
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != keeper) ::_exit(126);
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0 || ::dup2(lock_fd, 3) < 0) ::_exit(126);
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  ::signal(SIGPIPE, SIG_DFL);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) ::_exit(126);
  data[0].inheritable = data[0].permitted;
  data[1].inheritable = data[1].permitted;
  if (::syscall(SYS_capset, &header, data) != 0 || ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0) != 0) ::_exit(126);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

struct Mount {
  std::filesystem::path image;
  pid_t pid = -1; // -1: fuse2fs died; the next request mounts it again
  sys::Fd pidfd;
  int refs = 0;
};

struct Connection {
  sys::Fd fd;
  std::vector<std::string> dirs; // one entry per lease taken
};

class Keeper {
public:
  Keeper(sys::Fd listener, sys::Fd user_ns, sys::Fd mount_ns)
      : m_listener(std::move(listener)), m_user_ns(std::move(user_ns)), m_mount_ns(std::move(mount_ns)) {}

  void serve() {
    while (!(m_connections.empty() && try_exit())) {
      std::vector<pollfd> fds{{m_listener.get(), POLLIN, 0}};
      for (const auto& c : m_connections) fds.push_back({c.fd.get(), POLLIN, 0});
      for (const auto& [dir, m] : m_mounts) fds.push_back({m.pid > 0 ? m.pidfd.get() : -1, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), m_connections.empty() ? 50 : -1) < 0 && errno != EINTR) return;
      std::size_t i = 1 + m_connections.size();
      for (auto& [dir, m] : m_mounts) {
        if (fds[i++].revents != 0) died(dir, m);
      }
      // Backwards: a hang-up removes its connection.
      for (std::size_t c = m_connections.size(); c-- > 0;) {
        if (fds[1 + c].revents != 0) handle(c);
      }
      if ((fds[0].revents & POLLIN) != 0) accept_one();
    }
  }

private:
  void accept_one() {
    sys::Fd fd(::accept4(m_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd.valid()) return;
    auto uid = sys::peer_uid(fd.get());
    if (!uid || *uid != ::getuid()) return;
    m_connections.push_back({std::move(fd), {}});
  }

  void handle(std::size_t index) {
    auto& connection = m_connections[index];
    auto message = sys::recv_message(connection.fd.get());
    if (!message || message->data.empty()) {
      for (const auto& dir : connection.dirs) release(dir);
      m_connections.erase(m_connections.begin() + static_cast<std::ptrdiff_t>(index));
      return;
    }
    std::vector<std::string> fields;
    for (std::size_t at = 0; at < message->data.size();) {
      auto end = message->data.find('\0', at);
      if (end == std::string::npos) end = message->data.size();
      fields.push_back(message->data.substr(at, end - at));
      at = end + 1;
    }
    try {
      if (fields.size() == 5 && fields[0] == "move") {
        move(fields[1], fields[2], fields[3], fields[4]);
        (void)sys::send_message(connection.fd.get(), "ok");
        return;
      }
      if (fields.empty() || fields[0] != "mount" || fields.size() % 4 != 1) image::fail("mount keeper", "malformed request");
      for (std::size_t f = 1; f < fields.size(); f += 4) {
        image::Area area{fields[f + 1], fields[f + 2], std::stoull(fields[f]), fields[f + 3]};
        mount(area);
        connection.dirs.push_back(area.dir.string());
      }
      const int fds[] = {m_user_ns.get(), m_mount_ns.get()};
      (void)sys::send_message(connection.fd.get(), "ok", fds);
    } catch (const Error& e) {
      fmt::print(stderr, "mount keeper: {}: {}\n", e.subject(), e.reason());
      (void)sys::send_message(connection.fd.get(), fmt::format("fail{0}{1}{0}{2}", '\0', e.subject(), e.reason()));
    } catch (const std::exception& e) {
      (void)sys::send_message(connection.fd.get(), fmt::format("fail{0}mount keeper{0}{1}", '\0', e.what()));
    }
  }

  // A pool sandbox's workspace becomes a workspace's: its image, lock and log renamed, its mount moved, and every
  // lease on it now on the new folder (so that a later request for the workspace finds this fuse2fs, not a second one).
  void move(const std::string& from, const std::string& to, const std::filesystem::path& image, const std::filesystem::path& lock) {
    const auto home = state_home().string() + "/";
    for (const auto& path : {from, to, image.string(), lock.string()}) {
      if (path.rfind(home, 0) != 0 || path.find("/../") != std::string::npos) image::fail("move " + from, "not in sandpit's state folder " + home);
    }
    auto it = m_mounts.find(from);
    if (it == m_mounts.end() || it->second.pid <= 0) image::fail("move " + from, "it is not mounted");
    if (m_mounts.count(to) != 0) image::fail("move " + from, to + " is mounted already");
    const auto old_image = it->second.image;
    const auto old_lock = old_image.parent_path() / "image.lock";
    for (const auto& [a, b] : {std::pair{old_image, image}, std::pair{old_lock, lock},
                               std::pair{std::filesystem::path(old_image.string() + ".fuse2fs.log"), std::filesystem::path(image.string() + ".fuse2fs.log")}}) {
      if (::rename(a.c_str(), b.c_str()) != 0 && errno != ENOENT) image::fail("rename " + a.string(), std::strerror(errno));
    }
    if (::mount(from.c_str(), to.c_str(), nullptr, MS_MOVE, nullptr) != 0) image::fail("move the mount " + from, std::strerror(errno));
    Mount moved = std::move(it->second);
    moved.image = image;
    m_mounts.erase(it);
    m_mounts.emplace(to, std::move(moved));
    for (auto& c : m_connections) std::replace(c.dirs.begin(), c.dirs.end(), from, to);
    fmt::print(stderr, "mount keeper: {} moved to {}\n", from, to);
  }

  // Mounts `area` unless it is mounted already; one more lease on it either way.
  void mount(const image::Area& area) {
    const auto home = state_home().string() + "/";
    if (area.image.string().rfind(home, 0) != 0 || area.dir.string().rfind(home, 0) != 0) {
      image::fail("mount " + area.image.string(), "not in sandpit's state folder " + home);
    }
    auto& m = m_mounts[area.dir.string()];
    if (m.pid > 0) {
      ++m.refs;
      return;
    }
    auto lock = lock_image(area);
    std::error_code ec;
    // e2fsck (before growing, and for an image not cleanly unmounted) makes a new lost+found.
    if (!std::filesystem::exists(area.image, ec)) {
      image::create(area, ::getuid(), ::getgid());
      image::remove_lost_found(area.image);
    } else if (image::needs_check(area.image) || image::grows(area)) {
      image::check(area.image);
      image::grow_if_raised(area);
      image::remove_lost_found(area.image);
    }
    start_fuse2fs(area, m, lock);
    ++m.refs;
  }

  // The image's lock, which each fuse2fs holds until it exits: one that is still flushing
  // (its keeper was killed, and a new keeper is mounting) finishes before the next starts.
  static sys::Fd lock_image(const image::Area& area) {
    sys::Fd lock(::open(area.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock.valid()) image::fail("open " + area.lock_file.string(), std::strerror(errno));
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK || Clock::now() > deadline) {
        image::fail("lock " + area.lock_file.string(), errno == EWOULDBLOCK ? "another fuse2fs still serves the image" : std::strerror(errno));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return lock;
  }

  void start_fuse2fs(const image::Area& area, Mount& m, const sys::Fd& lock) {
    const auto program = fuse2fs_program();
    if (program.empty()) image::fail("mount " + area.image.string(), "fuse2fs is missing (install the fuse2fs package)");
    const auto log = area.image.string() + ".fuse2fs.log";
    sys::Fd log_fd(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!log_fd.valid()) image::fail("open " + log, std::strerror(errno));
    // -f: in the foreground, so it stays our child (PR_SET_PDEATHSIG) and we see it exit.
    std::vector<std::string> args{program, area.image.string(), area.dir.string(), "-f"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t keeper = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) image::fail("start fuse2fs", std::strerror(errno));
    if (pid == 0) exec_fuse2fs(keeper, log_fd.get(), lock.get(), argv);
    m.image = area.image;
    m.pid = pid;
    m.pidfd = sys::Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!image::is_mountpoint(area.dir)) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        m.pid = -1;
        auto why = last_line(log);
        image::fail("mount " + area.image.string() + " with fuse2fs",
                    why.empty() ? fmt::format("fuse2fs exited with status {} (see {})", WEXITSTATUS(status), log) : why);
      }
      if (Clock::now() > deadline) {
        stop(area.dir.string(), m);
        image::fail("mount " + area.image.string() + " with fuse2fs", "fuse2fs did not mount it within 10 s (see " + log + ")");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    fmt::print(stderr, "mount keeper: {} on {} (fuse2fs pid {})\n", area.image.string(), area.dir.string(), pid);
  }

  void release(const std::string& dir) {
    auto it = m_mounts.find(dir);
    if (it == m_mounts.end() || --it->second.refs > 0) return;
    stop(dir, it->second);
    m_mounts.erase(it);
  }

  // SIGTERM: libfuse leaves its loop, unmounts, and fuse2fs flushes and closes the image.
  void stop(const std::string& dir, Mount& m) {
    if (m.pid > 0) {
      ::kill(m.pid, SIGTERM);
      pollfd p{m.pidfd.get(), POLLIN, 0};
      if (::poll(&p, 1, 5000) == 0) {
        fmt::print(stderr, "mount keeper: fuse2fs {} ignored SIGTERM for 5 s; killing it\n", m.pid);
        ::kill(m.pid, SIGKILL);
      }
      while (::waitpid(m.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    ::umount2(dir.c_str(), MNT_DETACH); // if fuse2fs could not
    m.pid = -1;
  }

  void died(const std::string& dir, Mount& m) {
    int status = 0;
    if (::waitpid(m.pid, &status, WNOHANG) != m.pid) return;
    fmt::print(stderr, "mount keeper: fuse2fs {} serving {} exited (status {:#x}); mounting it again on the next request\n", m.pid,
               dir, status);
    ::umount2(dir.c_str(), MNT_DETACH);
    m.pid = -1;
  }

  // With no client left: exit, unless a client is starting (it holds the start lock) or connecting.
  // A state folder that is gone (removed under us) leaves nobody to serve: exit.
  bool try_exit() {
    sys::Fd lock(::open((keeper_dir() / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (lock.valid() && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return false;
    pollfd p{m_listener.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) return false;
    for (auto& [dir, m] : m_mounts) stop(dir, m); // none should be left; be sure
    ::unlink((keeper_dir() / "socket").c_str());
    return true;
  }

  sys::Fd m_listener;
  sys::Fd m_user_ns;
  sys::Fd m_mount_ns;
  std::vector<Connection> m_connections;
  std::map<std::string, Mount> m_mounts; // by mount point
};

} // namespace

std::filesystem::path keeper_dir() { return state_home() / "mounts"; }

int mount_keeper_main(int argc, char** argv) {
  // sandpit __mount-keeper <ready-fd>
  if (argc < 3) return 2;
  int ready_fd = std::atoi(argv[2]);
  auto report = [&](const std::string& line) {
    (void)sys::write_all(ready_fd, line + "\n");
    ::close(ready_fd);
  };
  if (auto r = own_namespaces(); !r) {
    report(r.failure().message());
    return 125;
  }
  sys::Fd user_ns(::open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC));
  sys::Fd mount_ns(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
  auto listener = sys::listen_unix(keeper_dir().string(), "socket", SOCK_SEQPACKET);
  if (!listener || !user_ns.valid() || !mount_ns.valid()) {
    report(listener ? "open /proc/self/ns: " + std::string(std::strerror(errno)) : listener.failure().message());
    return 125;
  }
  report("ok");
  Keeper(std::move(listener).value(), std::move(user_ns), std::move(mount_ns)).serve();
  return 0;
}

} // namespace sandpit::files
