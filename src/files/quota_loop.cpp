// Quota mounts as root: each image on a loop device, mounted as ext4 by the kernel.
#include "quota_backends.hpp"

#include "sandpit/jail/spec.hpp"
#include "sandpit/sys/fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <linux/loop.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sandpit::files {
namespace {

using image::fail;

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

void mount_area(const image::Area& area) {
  if (image::is_mountpoint(area.dir)) return; // mounted by an earlier call of this process (a REPL runs many commands)
  // One creator and attacher at a time per image.
  sys::Fd lock(::open(area.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock.valid() || ::flock(lock.get(), LOCK_EX) != 0) fail("lock " + area.lock_file.string(), std::strerror(errno));
  std::error_code ec;
  if (!std::filesystem::exists(area.image, ec)) image::create(area, jail::k_root_mode_host_id, jail::k_root_mode_host_id);
  // An image in use grows when next attached afresh; only a raised limit pays for the scan of loop devices.
  else if (image::grows(area) && !attached_device(area.image).valid()) image::grow_if_raised(area);
  auto device = attach(area.image);
  // The device's name (for df and mountinfo), resolved from the fd we attached.
  std::error_code link_ec;
  auto source = std::filesystem::read_symlink(fmt::format("/proc/self/fd/{}", device.get()), link_ec).string();
  if (link_ec) fail("find the loop device of " + area.image.string(), link_ec.message());
  // discard: space the code frees goes back to the host (the image stays sparse).
  if (::mount(source.c_str(), area.dir.c_str(), "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME, "errors=remount-ro,discard") != 0) {
    fail("mount " + area.image.string(), std::strerror(errno));
  }
  ::rmdir((area.dir / "lost+found").c_str());
  if (::chown(area.dir.c_str(), jail::k_root_mode_host_id, jail::k_root_mode_host_id) != 0) fail("chown " + area.dir.string(), std::strerror(errno));
  ::chmod(area.dir.c_str(), 0755);
}

int g_host_mount_ns = -1;

void remember_host_mount_namespace() {
  if (g_host_mount_ns < 0) g_host_mount_ns = ::open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
}

} // namespace

int host_mount_namespace() { return g_host_mount_ns; }

QuotaStatus loop_support() {
  if (::access("/dev/loop-control", W_OK) != 0) return {false, "not enforced: /dev/loop-control is missing"};
  if (::access(image::k_mke2fs, X_OK) != 0) return {false, "not enforced: /sbin/mke2fs is missing (install e2fsprogs)"};
  return {true, "ext4 images on loop devices"};
}

void enter_loop_mounts(const std::vector<image::Area>& areas) {
  bool entered = true;
  for (const auto& area : areas) entered = entered && image::is_mountpoint(area.dir);
  if (entered) return;
  if (!image::is_mountpoint(areas.back().dir)) {
    // The first call of this thread: a namespace of its own, so the host's mount table stays clean.
    remember_host_mount_namespace();
    if (::unshare(CLONE_NEWNS) != 0) fail("unshare mount namespace", std::strerror(errno));
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail("make mounts private", std::strerror(errno));
  }
  for (const auto& area : areas) mount_area(area);
}

void move_loop_area(const image::Area& from, const image::Area& to) {
  // The loop device holds the image open and finds it again by device and inode: a rename is safe.
  for (const auto& [a, b] : {std::pair{from.image, to.image}, std::pair{hint_file(from.image), hint_file(to.image)},
                             std::pair{from.lock_file, to.lock_file}}) {
    if (::rename(a.c_str(), b.c_str()) != 0 && errno != ENOENT) fail("rename " + a.string(), std::strerror(errno));
  }
  if (::mount(from.dir.c_str(), to.dir.c_str(), nullptr, MS_MOVE, nullptr) != 0) fail("move the mount " + from.dir.string(), std::strerror(errno));
}

} // namespace sandpit::files
