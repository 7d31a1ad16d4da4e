#include "sandpit/files/quota.hpp"

#include "sandpit/core/error.hpp"
#include "sandpit/jail/spec.hpp"
#include "sandpit/sys/fd.hpp"
#include "sandpit/util/units.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <linux/loop.h>
#include <sched.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sandpit::files {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) { throw Error(ExitCode::sandbox_setup, what, why); }

enum class Chatter { shown, hidden }; // a tool's stderr: the user's, or /dev/null (resize2fs prints its banner there)

int run_tool(std::vector<std::string> argv, Chatter chatter = Chatter::shown) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  if (chatter == Chatter::hidden) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A new sparse image of `size` bytes holding what `dir` holds now, owned by the sandbox user.
void create_image(const std::filesystem::path& image, const std::filesystem::path& dir, std::uint64_t size) {
  const auto tmp = image.string() + ".new";
  {
    sys::Fd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid() || ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) fail("create " + tmp, std::strerror(errno));
  }
  const auto owner = std::to_string(jail::k_root_mode_host_id);
  int rc = run_tool({"/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-m", "0", "-L", "sandpit",
                     "-E", fmt::format("root_owner={0}:{0},lazy_itable_init=1,lazy_journal_init=1", owner), "-d", dir.string(), tmp});
  if (rc != 0) {
    ::unlink(tmp.c_str());
    fail("mke2fs " + tmp, rc < 0 ? "cannot run /sbin/mke2fs (install e2fsprogs)" : fmt::format("exit status {}", rc));
  }
  if (::rename(tmp.c_str(), image.c_str()) != 0) fail("rename " + tmp, std::strerror(errno));
  // The files are in the image now; the folder becomes its mount point.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) std::filesystem::remove_all(entry.path(), ec);
}

// An open loop device whose backing file is `image` (same device and inode: a path can be spelt many ways).
sys::Fd open_if_serving(const std::string& device_name, const struct stat& image) {
  sys::Fd fd(::open(("/dev/" + device_name).c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return fd;
  // Checked after opening: our descriptor keeps an autoclear device from being detached and reused meanwhile.
  loop_info64 info{};
  if (::ioctl(fd.get(), LOOP_GET_STATUS64, &info) != 0 || info.lo_device != image.st_dev || info.lo_inode != image.st_ino) return {};
  return fd;
}

// Where the last attach of `image` went ("loop3"), so the next one need not scan every device.
std::filesystem::path hint_file(const std::filesystem::path& image) { return image.string() + ".loop"; }

// The loop device already serving `image`, if any: one device per image keeps one superblock.
sys::Fd attached_device(const std::filesystem::path& image) {
  struct stat st {};
  if (::stat(image.c_str(), &st) != 0) fail("stat " + image.string(), std::strerror(errno));
  std::string hint;
  if (std::ifstream in(hint_file(image)); in && std::getline(in, hint) && hint.rfind("loop", 0) == 0) {
    if (auto fd = open_if_serving(hint, st); fd.valid()) return fd;
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block", ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind("loop", 0) != 0 || !std::filesystem::exists(entry.path() / "loop", ec)) continue;
    if (auto fd = open_if_serving(name, st); fd.valid()) return fd;
  }
  return {};
}

sys::Fd attach(const std::filesystem::path& image) {
  if (auto existing = attached_device(image); existing.valid()) return existing;
  sys::Fd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control.valid()) fail("open /dev/loop-control", std::strerror(errno));
  sys::Fd backing(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (!backing.valid()) fail("open " + image.string(), std::strerror(errno));
  for (int attempt = 0; attempt < 8; ++attempt) {
    int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) fail("find a free loop device", std::strerror(errno));
    const auto device = fmt::format("/dev/loop{}", n);
    sys::Fd fd(::open(device.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd.valid()) fail("open " + device, std::strerror(errno));
    loop_config config{};
    config.fd = static_cast<std::uint32_t>(backing.get());
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    std::strncpy(reinterpret_cast<char*>(config.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
    if (::ioctl(fd.get(), LOOP_CONFIGURE, &config) == 0) {
      std::ofstream(hint_file(image), std::ios::trunc) << "loop" << n << "\n";
      return fd;
    }
    if (errno != EBUSY) fail("attach " + image.string() + " to " + device, std::strerror(errno));
  }
  fail("attach " + image.string(), "every free loop device was taken meanwhile");
}

// True when `dir` is a mount point in this thread's namespace (its device differs from its parent's).
bool is_mountpoint(const std::filesystem::path& dir) {
  struct stat self {}, parent {};
  if (::stat(dir.c_str(), &self) != 0 || ::stat((dir / "..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

// A raised limit grows the image and its filesystem, offline: when no loop device
// serves the image, e2fsck and resize2fs enlarge it to the new size (online
// growth needs CAP_SYS_RESOURCE, which a root in a container may lack). An image
// in use grows the next time it is mounted afresh. A lowered limit cannot shrink a
// filesystem that holds files: the image keeps its size.
void grow_if_raised(const std::filesystem::path& image, std::uint64_t size) {
  struct stat st {};
  if (::stat(image.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) >= size) return;
  if (attached_device(image).valid()) return;
  // e2fsck -p: 0 clean, 1 errors fixed; resize2fs insists on a checked filesystem.
  if (int rc = run_tool({"/sbin/e2fsck", "-f", "-p", image.string()}, Chatter::hidden); rc != 0 && rc != 1) {
    fail("grow " + image.string(), fmt::format("e2fsck exit status {}", rc));
  }
  if (::truncate(image.c_str(), static_cast<off_t>(size)) != 0) fail("grow " + image.string(), std::strerror(errno));
  if (int rc = run_tool({"/sbin/resize2fs", image.string()}, Chatter::hidden); rc != 0) {
    // Back to the size the filesystem still has, so the next attach tries again.
    [[maybe_unused]] int back = ::truncate(image.c_str(), st.st_size);
    fail("grow " + image.string(), fmt::format("resize2fs exit status {}", rc));
  }
}

void mount_area(const std::filesystem::path& image, const std::filesystem::path& dir, std::uint64_t size,
                const std::filesystem::path& lock_file) {
  if (is_mountpoint(dir)) return; // mounted by an earlier call of this process (a REPL runs many commands)
  // One creator and attacher at a time per image.
  sys::Fd lock(::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX) != 0) fail("lock " + lock_file.string(), std::strerror(errno));
  std::error_code ec;
  if (!std::filesystem::exists(image, ec)) create_image(image, dir, size);
  else grow_if_raised(image, size);
  auto device = attach(image);
  // The device's name (for df and mountinfo), resolved from the fd we attached.
  std::error_code link_ec;
  auto source = std::filesystem::read_symlink(fmt::format("/proc/self/fd/{}", device.get()), link_ec).string();
  if (link_ec) fail("find the loop device of " + image.string(), link_ec.message());
  // discard: space the code frees goes back to the host (the image stays sparse).
  if (::mount(source.c_str(), dir.c_str(), "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME, "errors=remount-ro,discard") != 0) {
    fail("mount " + image.string(), std::strerror(errno));
  }
  ::rmdir((dir / "lost+found").c_str());
}

} // namespace

std::string full_areas(const config::Config& config, const Workspace& workspace) {
  std::string out;
  auto check = [&](const std::filesystem::path& dir, const char* area, const char* key, std::uint64_t limit) {
    struct statvfs st {};
    // ext4 keeps some blocks in reserve for its own metadata: a writer gets ENOSPC with ~2% left.
    if (::statvfs(dir.c_str(), &st) != 0) return;
    const std::uint64_t left = st.f_bavail * st.f_frsize;
    if (left >= std::max<std::uint64_t>(1U << 20, st.f_blocks * st.f_frsize / 50)) return;
    if (!out.empty()) out += "; ";
    out += fmt::format("{} is full ({} = {}, {} left): writes there fail with ENOSPC until files are removed", area, key,
                       units::format_size(limit), units::format_size(left));
  };
  if (!quota_support().enforced) return out;
  check(workspace.files_dir, "/workspace", "limits.workspace", config.limits.workspace);
  check(persist_dir(), "/persist", "limits.persist", config.limits.persist);
  return out;
}

QuotaStatus quota_support() {
  if (::geteuid() != 0) return {false, "not enforced: loop-mounted images need root (files are kept in plain folders)"};
  if (::access("/dev/loop-control", W_OK) != 0) return {false, "not enforced: /dev/loop-control is missing"};
  if (::access("/sbin/mke2fs", X_OK) != 0) return {false, "not enforced: /sbin/mke2fs is missing (install e2fsprogs)"};
  return {true, "ext4 images on loop devices"};
}

namespace {

QuotaStatus enter(const config::Config& config, const Workspace* workspace) {
  auto status = quota_support();
  if (!status.enforced) return status;
  if (workspace) workspace->ensure_created();
  ensure_persist_dir();
  const bool entered = is_mountpoint(persist_dir()) && (!workspace || is_mountpoint(workspace->files_dir));
  if (entered) return status;
  if (!is_mountpoint(persist_dir())) {
    // The first call of this thread: a namespace of its own, so the host's mount table stays clean.
    if (::unshare(CLONE_NEWNS) != 0) fail("unshare mount namespace", std::strerror(errno));
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail("make mounts private", std::strerror(errno));
  }
  std::vector<std::filesystem::path> dirs{persist_dir()};
  if (workspace) {
    mount_area(workspace->state_dir / "workspace.img", workspace->files_dir, config.limits.workspace, workspace->state_dir / "image.lock");
    dirs.push_back(workspace->files_dir);
  }
  mount_area(state_home() / "persist.img", persist_dir(), config.limits.persist, state_home() / "persist.lock");
  for (const auto& dir : dirs) {
    if (::chown(dir.c_str(), jail::k_root_mode_host_id, jail::k_root_mode_host_id) != 0) fail("chown " + dir.string(), std::strerror(errno));
    ::chmod(dir.c_str(), 0755);
  }
  return status;
}

} // namespace

QuotaStatus enter_quota_mounts(const config::Config& config, const Workspace& workspace) { return enter(config, &workspace); }
QuotaStatus enter_persist_mount(const config::Config& config) { return enter(config, nullptr); }

} // namespace sandpit::files
