// The warm pool's client side and its filler: where slots live, which ones a client may take, and making
// the missing ones in the background. The slot itself is pool_slot.cpp.
#include "sandpit/session/pool.hpp"

#include "pool_internal.hpp"

#include "sandpit/audit/record.hpp"
#include "sandpit/core/error.hpp"
#include "sandpit/files/quota.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/sys/unix_socket.hpp"
#include "sandpit/util/trace.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <random>
#include <sched.h>
#include <set>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace sandpit::session::pool {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Whether some process holds the flock on `path` (a slot's "alive", a filler's "fill.lock").
bool held(const fs::path& path) {
  sys::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  return ::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

std::vector<fs::path> slot_dirs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind("slot-", 0) == 0) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void write_note(const fs::path& path, const std::string& text) {
  sys::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.valid()) (void)sys::write_all(fd.get(), text);
}

// A line from `fd` (whose peer sends nothing after it) within `timeout`; "" on timeout, EOF or error.
std::string read_line(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  while (line.size() < 65536) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return {};
    const auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return {};
    line.append(buf, static_cast<std::size_t>(n));
    if (auto end = line.find('\n'); end != std::string::npos) return line.substr(0, end);
  }
  return {};
}

namespace {

// Double-forked, in a session of its own, stdio on /dev/null and stderr on `log`: nobody's child but init's.
void spawn_detached(const std::vector<std::string>& args, const fs::path& log, int ready_fd) {
  // Everything allocated before the fork: the caller may be multi-threaded.
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log_path = log.string();
  pid_t pid = ::fork();
  if (pid < 0) return;
  const int host_ns = files::host_mount_namespace();
  if (pid == 0) {
    ::setsid();
    // Not in our mount namespace: it holds the images of workspaces we served (a slot adopted or lent),
    // which must go when we do.
    if (host_ns >= 0) (void)::setns(host_ns, CLONE_NEWNS);
    if (pid_t child = ::fork(); child != 0) ::_exit(child < 0 ? 125 : 0);
    int null_fd = ::open("/dev/null", O_RDWR);
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(log_fd >= 0 ? log_fd : null_fd, 2);
    if (ready_fd >= 0) {
      int moved = ::fcntl(ready_fd, F_DUPFD, 3);
      ::dup2(moved, 3);
    }
    ::syscall(SYS_close_range, ready_fd >= 0 ? 4U : 3U, ~0U, 0U); // nothing of the caller's reaches it
    if (::chdir("/") != 0) ::_exit(125);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(125);
  }
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

} // namespace

std::string fingerprint(const config::Config& config, const Shape& shape) {
  std::string text = "sandpit-pool-1\n";
  struct stat exe {};
  if (::stat("/proc/self/exe", &exe) == 0) {
    text += fmt::format("exe {} {} {} {}.{}\n", exe.st_dev, exe.st_ino, exe.st_size, exe.st_mtim.tv_sec, exe.st_mtim.tv_nsec);
  }
  text += fmt::format("uid {}\nhome {}\nuser {}\n", ::geteuid(), shape.home, shape.user_name);
  for (const auto& value : config::effective_values(config)) text += value.key + "=" + value.toml + "\n";
  // 128 bits of SHA-256 name the folder: enough to tell configs apart (the slots are the user's own, in a
  // 0700 folder, so nobody else chooses what is hashed).
  return audit::sha256_hex(text).substr(0, 32);
}

fs::path slots_dir(const config::Config& config, const Shape& shape) { return state_home() / "pool" / fingerprint(config, shape); }

Status status(const config::Config& config, const Shape& shape) {
  Status out;
  for (const auto& slot : slot_dirs(slots_dir(config, shape))) {
    if (!held(slot / "alive")) continue;
    std::error_code ec;
    (fs::exists(slot / "socket", ec) ? out.ready : out.starting) += 1;
  }
  return out;
}

// Sends SIGTERM to the process whose pid `pid_file` holds, if its command line still names `marker`.
void stop_process(const fs::path& pid_file, const std::string& marker) {
  auto text = sys::read_file(pid_file.string());
  if (!text) return;
  const pid_t pid = std::atoi(text->c_str());
  auto cmdline = sys::read_file(fmt::format("/proc/{}/cmdline", pid));
  if (pid > 1 && cmdline && cmdline->find(marker) != std::string::npos) ::kill(pid, SIGTERM);
}

std::uint64_t drain() {
  std::set<fs::path> seen;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  // Passes until nothing lives: a filler may have started a slot that had not written its pid yet.
  for (bool any = true; any && Clock::now() < deadline;) {
    any = false;
    std::error_code ec;
    for (const auto& pool : fs::directory_iterator(state_home() / "pool", ec)) {
      if (held(pool.path() / "fill.lock")) {
        stop_process(pool.path() / "fill.pid", pool.path().string()); // no new slots behind our back
        any = true;
      }
      // The template stops taking requests; it exits once the kernels it made (adopted sessions') are gone.
      if (held(pool.path() / "template" / "alive")) {
        ::unlink((pool.path() / "template" / "socket").c_str());
        stop_process(pool.path() / "template" / "pid", "sandpit-template");
      }
      for (const auto& slot : slot_dirs(pool.path())) {
        seen.insert(slot);
        ::unlink((slot / "socket").c_str());
        if (!held(slot / "alive")) {
          fs::remove_all(slot, ec);
          continue;
        }
        stop_process(slot / "pid", slot.string()); // ready or still starting
        any = true;
      }
    }
    if (any) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return seen.size();
}

namespace {

// Asks the ready slots for `workspace`'s shape, one after another, for `type` ("adopt" | "fresh") until one
// answers `granted`; that slot's connection and answer. nullopt without a profile that loads (the cold
// path says what is wrong with it) or a slot that agrees.
std::optional<std::pair<sys::Fd, json>> ask_slots(const config::Config& config, const Workspace& workspace,
                                                   const char* type, const char* granted) {
  Profile profile;
  try {
    profile = load_profile(workspace);
  } catch (const Error&) {
    return std::nullopt;
  }
  const auto request = json{{"type", type}, {"workspace", workspace.host_dir.string()}}.dump() + "\n";
  trace::mark("pool: profile");
  const auto dir = slots_dir(config, Shape::of(profile));
  trace::mark("pool: fingerprint");
  for (const auto& slot : slot_dirs(dir)) {
    auto fd = sys::connect_unix(slot.string(), "socket");
    if (!fd) continue;
    if (!sys::write_all(fd->get(), request)) continue;
    trace::mark("pool: asked");
    auto answer = json::parse(read_line(fd->get(), std::chrono::seconds(10)), nullptr, false);
    if (answer.is_object() && answer.value("type", "") == granted) return std::pair{std::move(fd).value(), std::move(answer)};
    if (answer.is_object()) fmt::print(stderr, "sandpit: pool: {}\n", answer.value("message", "refused"));
  }
  return std::nullopt;
}

} // namespace

bool claim(const config::Config& config, const Workspace& workspace) {
  if (config.pool == 0) return false;
  std::error_code ec;
  if (fs::exists(workspace.state_dir / "workspace.img", ec)) return false;
  if (fs::exists(workspace.files_dir, ec) && !fs::is_empty(workspace.files_dir, ec)) return false;
  return ask_slots(config, workspace, "adopt", "adopted").has_value();
}

std::optional<Lent> borrow(const config::Config& config, const Workspace& workspace) {
  if (config.pool == 0) return std::nullopt;
  auto lent = ask_slots(config, workspace, "fresh", "lent");
  if (!lent) return std::nullopt;
  return Lent{std::move(lent->first), lent->second.value("pid", -1)};
}

void request_fill(const config::Config& config, const std::string& config_file, const Shape& shape) {
  if (config.pool == 0) return;
  const auto dir = slots_dir(config, shape);
  auto now = status(config, shape);
  if (now.ready + now.starting >= config.pool || held(dir / "fill.lock")) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::permissions(state_home() / "pool", fs::perms::owner_all, ec);
  spawn_detached({"sandpit", k_fill_arg, dir.string(), "-1", config_file, shape.home, shape.user_name}, dir / "fill.log", -1);
}

void refill_later(const config::Config& config, const std::string& config_file, const Shape& shape, const fs::path& remove) {
  if (config.pool == 0 && remove.empty()) return;
  std::thread([config, config_file, shape, remove] {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    std::error_code ec;
    if (!remove.empty()) fs::remove_all(remove, ec);
    request_fill(config, config_file, shape);
  }).detach();
}

int fill_main(int argc, char** argv) {
  // sandpit __pool-fill <slots dir> <ready-fd> <config file> <home> <user>
  if (argc != 7) return 2;
  const fs::path dir = argv[2];
  try {
    auto config = config::load({argv[4]});
    const Shape shape{argv[5], argv[6]};
    if (slots_dir(config, shape) != dir) return 0; // the config (or the binary) changed since: these slots are not wanted
    sys::Fd lock(::open((dir / "fill.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock.valid() || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return 0; // another filler is at it
    write_note(dir / "fill.pid", std::to_string(::getpid()));
    // Before the slots: their Python kernels come from it (a slot without one starts its kernel cold).
    ensure_template(config, dir);
    std::mt19937_64 random{std::random_device{}()};
    for (;;) {
      // Slots whose daemon is gone (killed, crashed, idle): their folders go.
      std::uint64_t alive = 0;
      for (const auto& slot : slot_dirs(dir)) {
        if (held(slot / "alive")) {
          ++alive;
          continue;
        }
        std::error_code ec;
        fs::remove_all(slot, ec);
      }
      if (alive >= config.pool) return 0;
      // One slot at a time: the machine's other work goes first.
      const auto slot = dir / fmt::format("slot-{:016x}", random());
      fs::create_directory(slot);
      fs::permissions(slot, fs::perms::owner_all);
      Profile profile;
      profile.home = shape.home;
      profile.user_name = shape.user_name;
      save_profile(Workspace{slot, slot.filename().string(), slot, slot / "files"}, profile);
      auto ready = sys::make_pipe();
      if (!ready) return 125;
      spawn_detached({"sandpit", k_slot_arg, slot.string(), "3", argv[4]}, slot / "daemon.log", ready->second.get());
      ready->second.reset();
      auto answer = read_line(ready->first.get(), std::chrono::minutes(5));
      if (answer != "ok") {
        fmt::print(stderr, "pool: a slot did not start: {} (see {})\n", answer.empty() ? "no answer" : answer, (slot / "daemon.log").string());
        return 125; // the next claim asks again; no loop of failures meanwhile
      }
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "pool: {}\n", e.what());
    return 125;
  }
}

} // namespace sandpit::session::pool
