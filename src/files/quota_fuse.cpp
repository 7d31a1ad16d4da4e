// Quota mounts without root: leases on the mount keeper's fuse2fs mounts, and joining its namespaces.
#include "quota_backends.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/core/paths.hpp"
#include "sandpit/sys/unix_socket.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <mutex>
#include <sched.h>
#include <set>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandpit::files {
namespace {

using image::fail;

// The leases this process holds: the connections to the keeper, kept open until the process
// exits, and the mount points they cover. Process-wide on purpose: it mirrors kernel state
// (open connections) that is process-wide too. Every fork in sandpit is followed by an exec,
// which starts it afresh as the connections' close-on-exec flags close them.
struct Leases {
  std::mutex mutex;
  pid_t keeper = -1;
  std::set<std::string> dirs;
  std::vector<sys::Fd> connections;
};

Leases& leases() {
  static Leases held;
  return held;
}

// Starts `sandpit __mount-keeper` detached, and waits until it listens or says why it cannot.
void spawn_keeper() {
  auto ready = sys::make_pipe();
  if (!ready) fail("start the mount keeper", ready.failure().message());
  const auto log = (keeper_dir() / "keeper.log").string();
  pid_t pid = ::fork();
  if (pid < 0) fail("start the mount keeper", std::strerror(errno));
  if (pid == 0) {
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDWR);
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, 2);
    int ready_fd = ::fcntl(ready->second.get(), F_DUPFD, 3);
    ::dup2(ready_fd, 3);
    ::syscall(SYS_close_range, 4U, ~0U, 0U); // nothing of the client's reaches the keeper
    if (::chdir("/") != 0) ::_exit(125);
    char arg0[] = "sandpit", arg1[] = "__mount-keeper", arg2[] = "3";
    char* argv[] = {arg0, arg1, arg2, nullptr};
    ::execv("/proc/self/exe", argv);
    ::_exit(125);
  }
  ready->second.reset();
  auto answer = sys::read_all(ready->first.get());
  if (answer && *answer == "ok\n") return;
  ::waitpid(pid, nullptr, WNOHANG);
  std::string why = answer ? *answer : std::string();
  while (!why.empty() && why.back() == '\n') why.pop_back();
  fail("start the mount keeper", why.empty() ? "it exited at start (see " + log + ")" : why);
}

// A connection to the keeper, started if none listens. The start lock keeps a keeper from
// exiting between our connect and our request, and two clients from starting two keepers.
sys::Fd connect_keeper(const std::string& request, sys::Message& reply) {
  std::error_code ec;
  std::filesystem::create_directories(keeper_dir(), ec);
  std::filesystem::permissions(keeper_dir(), std::filesystem::perms::owner_all, ec);
  const auto lock_path = keeper_dir() / "lock";
  sys::Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX) != 0) fail("lock " + lock_path.string(), std::strerror(errno));
  auto fd = sys::connect_unix(keeper_dir().string(), "socket", SOCK_SEQPACKET);
  if (!fd && (fd.failure().err == ENOENT || fd.failure().err == ECONNREFUSED)) {
    spawn_keeper();
    fd = sys::connect_unix(keeper_dir().string(), "socket", SOCK_SEQPACKET);
  }
  if (!fd) fail("connect to the mount keeper", fd.failure().message());
  if (auto r = sys::send_message(fd->get(), request); !r) fail("ask the mount keeper", r.failure().message());
  auto answer = sys::recv_message(fd->get());
  if (!answer || answer->data.empty()) fail("ask the mount keeper", "it closed the connection (see " + (keeper_dir() / "keeper.log").string() + ")");
  reply = std::move(answer).value();
  return std::move(fd).value();
}

bool same_namespace(int ns_fd, const char* mine) {
  struct stat a {}, b {};
  return ::fstat(ns_fd, &a) == 0 && ::stat(mine, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

int thread_count() {
  auto status = sys::read_file("/proc/self/status");
  if (!status) return 0;
  auto at = status->find("\nThreads:");
  return at == std::string::npos ? 0 : std::atoi(status->c_str() + at + 9);
}

// Joins the keeper's user and mount namespaces, so that jails cloned from here inherit
// the mounts. Only a single-threaded process may join a user namespace; a multi-threaded
// one (the MCP server's file worker) reaches the areas through area_view() instead.
void join(const sys::Message& reply) {
  const int user_ns = reply.fds[0].get(), mount_ns = reply.fds[1].get();
  if (same_namespace(mount_ns, "/proc/thread-self/ns/mnt") || thread_count() != 1) return;
  char cwd[4096];
  const bool had_cwd = ::getcwd(cwd, sizeof cwd) != nullptr;
  if (!same_namespace(user_ns, "/proc/self/ns/user") && ::setns(user_ns, CLONE_NEWUSER) != 0) {
    fail("join the mount keeper's user namespace", std::strerror(errno));
  }
  if (::setns(mount_ns, CLONE_NEWNS) != 0) fail("join the mount keeper's mount namespace", std::strerror(errno));
  // setns left us at the namespace's root; the same folders exist there.
  if (had_cwd && ::chdir(cwd) == 0) return;
  if (::chdir("/") != 0) fail("chdir /", std::strerror(errno));
}

} // namespace

QuotaStatus fuse_support() {
  const auto program = image::find_program({"/usr/bin/fuse2fs", "/usr/sbin/fuse2fs", "/bin/fuse2fs", "/sbin/fuse2fs"});
  if (program.empty()) return {false, "not enforced: fuse2fs is missing (install fuse2fs; images need root or FUSE)"};
  if (::access(image::k_mke2fs, X_OK) != 0) return {false, "not enforced: /sbin/mke2fs is missing (install e2fsprogs)"};
  sys::Fd fuse(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!fuse.valid()) {
    return {false, fmt::format("not enforced: /dev/fuse: {} (FUSE needs it readable and writable by you; udev makes it 0666)",
                               std::strerror(errno))};
  }
  return {true, "ext4 images served by fuse2fs in a user namespace"};
}

void enter_fuse_mounts(const std::vector<image::Area>& areas) {
  auto& held = leases();
  std::lock_guard lock(held.mutex);
  std::string request("mount");
  request.push_back('\0');
  for (const auto& area : areas) {
    if (held.dirs.count(area.dir.string()) != 0) continue;
    for (const auto& field : {std::to_string(area.size), area.image.string(), area.dir.string(), area.lock_file.string()}) {
      request += field;
      request.push_back('\0');
    }
  }
  if (request.size() == 6) return; // every area is leased already
  sys::Message reply;
  auto connection = connect_keeper(request, reply);
  if (reply.data.rfind("fail", 0) == 0) {
    auto what = reply.data.substr(std::min<std::size_t>(5, reply.data.size()));
    auto nul = what.find('\0');
    throw Error(ExitCode::sandbox_setup, what.substr(0, nul), nul == std::string::npos ? "" : what.substr(nul + 1));
  }
  if (reply.data != "ok" || reply.fds.size() != 2) fail("ask the mount keeper", "unexpected answer");
  auto keeper = sys::peer_pid(connection.get());
  if (!keeper) fail("ask the mount keeper", keeper.failure().message());
  join(reply);
  held.keeper = *keeper;
  for (const auto& area : areas) held.dirs.insert(area.dir.string());
  held.connections.push_back(std::move(connection));
}

void move_fuse_area(const image::Area& from, const image::Area& to) {
  auto& held = leases();
  std::lock_guard lock(held.mutex);
  std::string request("move");
  for (const auto& field : {from.dir.string(), to.dir.string(), to.image.string(), to.lock_file.string()}) {
    request.push_back('\0');
    request += field;
  }
  sys::Message reply;
  auto connection = connect_keeper(request, reply);
  if (reply.data.rfind("fail", 0) == 0) {
    auto what = reply.data.substr(std::min<std::size_t>(5, reply.data.size()));
    auto nul = what.find('\0');
    throw Error(ExitCode::sandbox_setup, what.substr(0, nul), nul == std::string::npos ? "" : what.substr(nul + 1));
  }
  if (reply.data != "ok") fail("ask the mount keeper", "unexpected answer");
  if (held.dirs.erase(from.dir.string()) != 0) held.dirs.insert(to.dir.string());
}

std::filesystem::path area_view(const std::filesystem::path& dir) {
  if (image::is_mountpoint(dir)) return dir;
  auto& held = leases();
  std::lock_guard lock(held.mutex);
  if (held.keeper > 0 && held.dirs.count(dir.string()) != 0) return fmt::format("/proc/{}/root{}", held.keeper, dir.string());
  return dir;
}

} // namespace sandpit::files
