#include "sandpit/jail/mounts.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <sys/mount.h>

using namespace sandpit::jail;

namespace {

std::vector<MountStep> plan() {
  RootSetup setup;
  setup.ro_binds = {{"/usr", HostEntry::Type::directory, {}},
                    {"/bin", HostEntry::Type::symlink, "usr/bin"},
                    {"/etc/ld.so.cache", HostEntry::Type::file, {}},
                    {"/lib32", HostEntry::Type::missing, {}}};
  setup.workspace_source = "/proc/self/fd/4";
  setup.tmp_size = 1 << 20;
  setup.tmp_inodes = 1024;
  return plan_root(setup, "/newroot");
}

const MountStep* find(const std::vector<MountStep>& steps, StepKind kind, const std::string& target) {
  for (const auto& s : steps) {
    if (s.kind == kind && s.target == target) return &s;
  }
  return nullptr;
}

} // namespace

TEST_CASE("plan_root, system binds are read-only, nosuid, nodev, recursively") {
  auto steps = plan();
  auto* remount = find(steps, StepKind::remount, "/newroot/usr");
  REQUIRE(remount);
  CHECK((remount->flags & MS_RDONLY) != 0);
  CHECK((remount->flags & MS_NOSUID) != 0);
  CHECK((remount->flags & MS_NODEV) != 0);
  CHECK(remount->recursive);
  CHECK(find(steps, StepKind::bind, "/newroot/usr")->source == "/usr");
}

TEST_CASE("plan_root, symlinks are recreated, missing paths skipped, files bound on a created file") {
  auto steps = plan();
  auto* link = find(steps, StepKind::symlink, "/newroot/bin");
  REQUIRE(link);
  CHECK(link->source == "usr/bin");
  CHECK_FALSE(find(steps, StepKind::bind, "/newroot/lib32"));
  CHECK(find(steps, StepKind::touch, "/newroot/etc/ld.so.cache"));
  CHECK(find(steps, StepKind::bind, "/newroot/etc/ld.so.cache"));
}

TEST_CASE("plan_root, workspace is read-write but nosuid and nodev") {
  auto steps = plan();
  auto* bind = find(steps, StepKind::bind, "/newroot/workspace");
  REQUIRE(bind);
  CHECK(bind->source == "/proc/self/fd/4");
  auto* remount = find(steps, StepKind::remount, "/newroot/workspace");
  REQUIRE(remount);
  CHECK((remount->flags & MS_RDONLY) == 0);
  CHECK((remount->flags & (MS_NOSUID | MS_NODEV)) == (MS_NOSUID | MS_NODEV));
}

TEST_CASE("plan_root, /tmp is a size- and inode-limited tmpfs") {
  auto steps = plan();
  auto* tmp = find(steps, StepKind::tmpfs, "/newroot/tmp");
  REQUIRE(tmp);
  CHECK(tmp->data == "mode=1777,size=1048576,nr_inodes=1024");
  CHECK((tmp->flags & (MS_NOSUID | MS_NODEV)) == (MS_NOSUID | MS_NODEV));
}

TEST_CASE("plan_root, fresh /proc with /proc/sys read-only and no nested user namespaces") {
  auto steps = plan();
  CHECK(find(steps, StepKind::proc, "/newroot/proc"));
  auto* sys = find(steps, StepKind::remount, "/newroot/proc/sys");
  REQUIRE(sys);
  CHECK((sys->flags & MS_RDONLY) != 0);
  auto* userns = find(steps, StepKind::write_optional, "/newroot/proc/sys/user/max_user_namespaces");
  REQUIRE(userns);
  CHECK(userns->source == "0");
}

TEST_CASE("plan_root, /dev holds only the harmless nodes and ends read-only") {
  auto steps = plan();
  std::vector<std::string> nodes;
  for (const auto& s : steps) {
    if (s.kind == StepKind::bind && s.target.rfind("/newroot/dev/", 0) == 0) nodes.push_back(s.target.substr(13));
  }
  CHECK(nodes == std::vector<std::string>{"null", "zero", "full", "random", "urandom"});
  auto* dev = find(steps, StepKind::remount, "/newroot/dev");
  REQUIRE(dev);
  CHECK((dev->flags & MS_RDONLY) != 0);
}

TEST_CASE("plan_root, the root itself ends read-only and the plan ends with pivot_root") {
  auto steps = plan();
  REQUIRE(steps.size() > 2);
  CHECK(steps.front().kind == StepKind::make_private);
  CHECK(steps.back().kind == StepKind::pivot_root);
  const auto& before = steps[steps.size() - 2];
  CHECK(before.kind == StepKind::remount);
  CHECK(before.target == "/newroot");
  CHECK((before.flags & MS_RDONLY) != 0);
}

TEST_CASE("MountStep::describe, names the step as the user sees it") {
  MountStep step{StepKind::tmpfs, "/newroot/tmp", "tmpfs", 0, {}, false, false};
  CHECK(step.describe("/newroot") == "mount tmpfs on /tmp");
  MountStep bind{StepKind::bind, "/newroot/usr", "/usr", 0, {}, true, false};
  CHECK(bind.describe("/newroot") == "bind /usr on /usr");
}

TEST_CASE("plan_root, a bind under /tmp goes on the sandbox's /tmp, after it is mounted") {
  RootSetup setup;
  setup.ro_binds = {{"/tmp/wheels", HostEntry::Type::directory, {}}, {"/usr", HostEntry::Type::directory, {}}};
  setup.workspace_source = "/proc/self/fd/4";
  auto steps = plan_root(setup, "/newroot");
  auto index_of = [&](StepKind kind, const std::string& target) {
    return std::find_if(steps.begin(), steps.end(), [&](const MountStep& s) { return s.kind == kind && s.target == target; }) - steps.begin();
  };
  const auto tmp = index_of(StepKind::tmpfs, "/newroot/tmp");
  const auto wheels = index_of(StepKind::bind, "/newroot/tmp/wheels");
  REQUIRE(wheels < static_cast<long>(steps.size()));
  CHECK(tmp < wheels);
  CHECK(index_of(StepKind::bind, "/newroot/usr") < tmp);
}
