// The Python template of a pool fingerprint (<slots dir>/template): started by the filler, used by the slots'
// sessions for every Python kernel they start (docs/ARCHITECTURE.md, "Templates").
#include "pool_internal.hpp"

#include "sandpit/kernels/drivers.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/sys/unix_socket.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sandpit::session::pool {
namespace {

bool lock_held(const fs::path& path) {
  sys::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return fd.valid() && ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

// The template's environment at exec, which is also what /proc/self/environ shows in its kernels: nothing of
// the host's, no path of the user's (MPLCONFIGDIR is set by the template itself, after start).
std::vector<std::string> template_environment() {
  return {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/nonexistent", "PYTHONUNBUFFERED=1",
          "PYTHONDONTWRITEBYTECODE=1", "MPLBACKEND=Agg", "TMPDIR=/tmp"};
}

} // namespace

bool templates_wanted(const config::Config& config) {
  if (config.pool == 0 || config.python_preload.empty()) return false;
  return std::find(config.pool_languages.begin(), config.pool_languages.end(), "python") != config.pool_languages.end();
}

std::string ready_template(const fs::path& slots) {
  const auto dir = slots / "template";
  std::error_code ec;
  if (!lock_held(dir / "alive") || !fs::exists(dir / "socket", ec)) return {};
  return dir.string();
}

std::string ensure_template(const config::Config& config, const fs::path& slots) {
  if (!templates_wanted(config)) return {};
  if (auto ready = ready_template(slots); !ready.empty()) return ready;
  const auto dir = slots / "template";
  std::error_code ec;
  fs::create_directory(dir, ec);
  fs::permissions(dir, fs::perms::owner_all, ec);
  sys::Fd alive(::open((dir / "alive").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!alive.valid() || ::flock(alive.get(), LOCK_EX | LOCK_NB) != 0) return {}; // another one is starting
  auto listener = sys::listen_unix(dir.string(), "socket.new", SOCK_SEQPACKET);
  if (!listener) {
    fmt::print(stderr, "pool: template: {}\n", listener.failure().message());
    return {};
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return {};
  sys::Fd mine(pair[0]), theirs(pair[1]);

  auto it = config.language_commands.find("python");
  std::vector<std::string> args = it != config.language_commands.end() ? it->second : std::vector<std::string>{"/usr/bin/python3"};
  args.insert(args.end(), {"-c", kernels::python_template_loader()});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto env_strings = template_environment();
  if (std::getenv("SANDPIT_TRACE") != nullptr) env_strings.emplace_back("SANDPIT_TEMPLATE_TRACE=1"); // spawn times in template.log
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string log = (dir / "template.log").string();
  const std::string cwd = dir.string();

  pid_t pid = ::fork();
  if (pid < 0) return {};
  if (pid == 0) {
    ::setsid();
    if (pid_t child = ::fork(); child != 0) ::_exit(child < 0 ? 125 : 0);
    int null_fd = ::open("/dev/null", O_RDWR);
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    // fd 3: the listener, 4: settings and "ready", 5: the alive lock (held while the template lives).
    int high[3] = {::fcntl(listener->get(), F_DUPFD, 10), ::fcntl(theirs.get(), F_DUPFD, 10), ::fcntl(alive.get(), F_DUPFD, 10)};
    ::dup2(null_fd, 0);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, 1);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, 2);
    for (int i = 0; i < 3; ++i) ::dup2(high[i], 3 + i);
    ::syscall(SYS_close_range, 6U, ~0U, 0U);
    if (::chdir(cwd.c_str()) != 0) ::_exit(125);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  theirs.reset();
  listener->reset();
  alive.reset(); // the template holds it now
  // The binary that made it: once that file is replaced or removed (an upgrade, a purge), the template takes
  // no more requests, as the slots of that binary exit (pool_slot.cpp).
  struct stat exe {};
  std::error_code ec_exe;
  const auto exe_path = fs::read_symlink("/proc/self/exe", ec_exe).string();
  ::stat("/proc/self/exe", &exe);
  const nlohmann::json settings = {{"preload", config.python_preload},
                                   {"idle_seconds", std::chrono::duration_cast<std::chrono::seconds>(config.idle_timeout).count()},
                                   {"binary", {{"path", exe_path}, {"dev", exe.st_dev}, {"ino", exe.st_ino}}}};
  // The loader reads the template's source, then the template its settings.
  (void)sys::write_all(mine.get(), std::string(kernels::python_template()) + settings.dump() + "\n");
  // The preload takes a second or two of CPU; the filler is off every client's path.
  const auto answer = read_line(mine.get(), std::chrono::minutes(2));
  if (answer != "ready") {
    fmt::print(stderr, "pool: the Python template did not start (see {})\n", log);
    fs::remove(dir / "socket.new", ec);
    return {};
  }
  fs::rename(dir / "socket.new", dir / "socket", ec); // only a ready template is ever found
  return ec ? std::string() : dir.string();
}

} // namespace sandpit::session::pool
