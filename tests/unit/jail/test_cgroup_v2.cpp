#include "fake_cgroupfs.hpp"

#include <doctest/doctest.h>

using namespace sandpit::jail;

namespace {

constexpr int k_pid = 4242;
const std::string k_user = "/user.slice/user-1000.slice";
const std::string k_apps = k_user + "/user@1000.service/app.slice";

sandpit::config::Limits limits() {
  sandpit::config::Limits l;
  l.memory = 256 << 20;
  l.pids = 64;
  l.cpu = 1.5;
  return l;
}

// A systemd desktop or SSH login: the process in its session scope (systemd's, not the
// user's), the user manager's app.slice owned by the user with memory, pids and cpu on.
struct Desktop {
  fake::FakeCgroupFs fs;
  fake::FakeSystemd systemd{fs, k_apps};
  V2Host host;
  Desktop() {
    fs.group("/user.slice", "cpu memory pids", false, "cpu memory pids");
    fs.group(k_user, "cpu memory pids", false, "cpu memory pids");
    fs.group(k_user + "/session-2.scope", "cpu memory pids", false);
    fs.group(k_user + "/user@1000.service", "cpu memory pids", true, "cpu memory pids");
    fs.group(k_apps, "cpu memory pids", true, "cpu memory pids");
    fs.put(k_pid, k_user + "/session-2.scope");
    host.fs = &fs;
    host.mount = "/sys/fs/cgroup";
    host.self = [this] { return fs.where(k_pid); };
    host.pid = k_pid;
    host.systemd_init = true;
    host.systemd = &systemd;
    host.scope_wait_ms = 50;
  }
};

} // namespace

TEST_CASE("create_cgroup_v2, a systemd login: a scope from the user manager, the jail's group inside it") {
  Desktop d;
  auto created = create_cgroup_v2("7-0", limits(), d.host);
  REQUIRE_MESSAGE(created, created.failure().message());
  const std::string scope = k_apps + "/sandpit-4242.scope";
  CHECK(d.systemd.asked == std::vector<std::string>{"sandpit-4242.scope"});
  CHECK(created->how == "scope sandpit-4242.scope delegated by the systemd user manager");
  CHECK(d.fs.where(k_pid) == scope + "/sandpit-client-4242");
  CHECK(d.fs.subtree(scope) == "cpu memory pids");
  CHECK(d.fs.knob(scope + "/sandpit-7-0", "memory.max") == "268435456");
  CHECK(d.fs.knob(scope + "/sandpit-7-0", "memory.swap.max") == "0");
  CHECK(d.fs.knob(scope + "/sandpit-7-0", "pids.max") == "64");
  CHECK(d.fs.knob(scope + "/sandpit-7-0", "cpu.max") == "150000 100000");

  auto& group = *created->cgroup;
  REQUIRE(group.add(999));
  CHECK(d.fs.where(999) == scope + "/sandpit-7-0");
  d.fs.set_knob(scope + "/sandpit-7-0", "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n");
  d.fs.set_knob(scope + "/sandpit-7-0", "pids.events", "max 1\n");
  CHECK(group.oom_kills() == 2);
  CHECK(group.usage().pids_limited);
  group.destroy();
  CHECK(d.fs.killed == std::vector<std::string>{scope + "/sandpit-7-0"});
  CHECK(d.fs.where(999).empty());
  CHECK_FALSE(d.fs.exists(scope + "/sandpit-7-0"));

  // The next jail of the same process: the same scope and leaf, no second request.
  auto second = create_cgroup_v2("7-1", limits(), d.host);
  REQUIRE(second);
  CHECK(d.systemd.asked.size() == 1);
  CHECK(d.fs.where(k_pid) == scope + "/sandpit-client-4242");
  CHECK(d.fs.exists(scope + "/sandpit-7-1"));
}

TEST_CASE("create_cgroup_v2, a writable cgroup systemd manages is not ours: it asks for a scope") {
  Desktop d;
  d.fs.group(k_apps + "/app-terminal.scope", "cpu memory pids", true); // the user owns it, systemd runs it
  d.fs.put(k_pid, k_apps + "/app-terminal.scope");
  auto created = create_cgroup_v2("1-0", limits(), d.host);
  REQUIRE(created);
  CHECK(d.systemd.asked.size() == 1);
  CHECK(d.fs.where(k_pid) == k_apps + "/sandpit-4242.scope/sandpit-client-4242");
}

TEST_CASE("create_cgroup_v2, a cgroup systemd delegated (its xattr) is used as it is") {
  Desktop d;
  d.fs.group(k_apps + "/runner.service", "cpu memory pids", true);
  d.fs.delegate(k_apps + "/runner.service");
  d.fs.put(k_pid, k_apps + "/runner.service");
  auto created = create_cgroup_v2("1-0", limits(), d.host);
  REQUIRE(created);
  CHECK(d.systemd.asked.empty());
  CHECK(created->how == "the cgroup /sys/fs/cgroup" + k_apps + "/runner.service, which systemd delegated");
  CHECK(d.fs.exists(k_apps + "/runner.service/sandpit-1-0"));
}

TEST_CASE("create_cgroup_v2, no systemd (a container with its own cgroup tree): the writable cgroup, controllers enabled") {
  fake::FakeCgroupFs fs("/sys/fs/cgroup");
  fs.group("/ctr", "cpu memory pids", true);
  fs.put(k_pid, "/ctr");
  V2Host host;
  host.fs = &fs;
  host.mount = "/sys/fs/cgroup";
  host.self = [&] { return fs.where(k_pid); };
  host.pid = k_pid;
  host.systemd_why_not = "not booted with systemd";
  auto created = create_cgroup_v2("2-0", limits(), host);
  REQUIRE_MESSAGE(created, created.failure().message());
  CHECK(created->how == "the cgroup /sys/fs/cgroup/ctr, writable here");
  CHECK(fs.where(k_pid) == "/ctr/sandpit-client-4242");
  CHECK(fs.subtree("/ctr") == "cpu memory pids");
  CHECK(fs.knob("/ctr/sandpit-2-0", "pids.max") == "64");
}

TEST_CASE("create_cgroup_v2, why not: each way that was tried, in order") {
  SUBCASE("no manager to ask") {
    Desktop d;
    d.host.systemd = nullptr;
    d.host.systemd_why_not = "no systemd user manager (/run/user/1000/systemd/private is missing)";
    auto created = create_cgroup_v2("1-0", limits(), d.host);
    REQUIRE_FALSE(created);
    CHECK(created.failure().message() ==
          "/sys/fs/cgroup" + k_user + "/session-2.scope: systemd manages it and did not delegate it; no systemd manager to ask "
          "for a delegated scope: no systemd user manager (/run/user/1000/systemd/private is missing)");
  }
  SUBCASE("the manager refuses") {
    Desktop d;
    d.systemd.refusal = "org.freedesktop.DBus.Error.AccessDenied: Access denied";
    auto created = create_cgroup_v2("1-0", limits(), d.host);
    REQUIRE_FALSE(created);
    CHECK(created.failure().message().find("; the systemd user manager refused a delegated scope: StartTransientUnit: "
                                           "org.freedesktop.DBus.Error.AccessDenied: Access denied") != std::string::npos);
    CHECK(d.fs.where(k_pid) == k_user + "/session-2.scope");
  }
  SUBCASE("the move never comes") {
    Desktop d;
    d.systemd.moves = false;
    auto created = create_cgroup_v2("1-0", limits(), d.host);
    REQUIRE_FALSE(created);
    CHECK(created.failure().message().find("did not move this process into sandpit-4242.scope within 50 ms") != std::string::npos);
  }
  SUBCASE("the controllers are bound to cgroup v1 (this development VM)") {
    fake::FakeCgroupFs fs("/sys/fs/cgroup/unified");
    fs.group("/sub", "hugetlb", true);
    fs.put(k_pid, "/sub");
    V2Host host;
    host.fs = &fs;
    host.mount = "/sys/fs/cgroup/unified";
    host.self = [&] { return fs.where(k_pid); };
    host.pid = k_pid;
    host.systemd_why_not = "not booted with systemd (/run/systemd/system is missing)";
    auto created = create_cgroup_v2("1-0", limits(), host);
    REQUIRE_FALSE(created);
    CHECK(created.failure().message() ==
          "/sys/fs/cgroup/unified/sub: the memory and pids controllers are not available there (cgroup.controllers: \"hugetlb\"); "
          "no systemd manager to ask for a delegated scope: not booted with systemd (/run/systemd/system is missing)");
  }
  SUBCASE("no cgroup2 mount") {
    V2Host host;
    auto created = create_cgroup_v2("1-0", limits(), host);
    REQUIRE_FALSE(created);
    CHECK(created.failure().message() == "no cgroup2 filesystem is mounted");
  }
}
