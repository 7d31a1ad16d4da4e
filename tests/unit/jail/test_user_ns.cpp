#include "sandpit/jail/rlimits.hpp"
#include "sandpit/jail/seccomp.hpp"
#include "sandpit/jail/spec.hpp"
#include "sandpit/jail/user_ns.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace sandpit::jail;

TEST_CASE("id_maps_for, an unprivileged user maps only itself and denies setgroups") {
  auto maps = id_maps_for(1234, 5678);
  CHECK(maps.uid_map == "1000 1234 1\n");
  CHECK(maps.gid_map == "1000 5678 1\n");
  CHECK(maps.deny_setgroups);
  CHECK_FALSE(maps.root_mode);
}

TEST_CASE("id_maps_for, host root maps the sandbox to nobody, never to root") {
  auto maps = id_maps_for(0, 0);
  CHECK(maps.uid_map == "1000 65534 1\n");
  CHECK(maps.gid_map == "1000 65534 1\n");
  CHECK(maps.root_mode);
}

TEST_CASE("rlimits_from_json, known names only, core always present") {
  sandpit::config::Config config;
  config.limits.open_files = 64;
  config.limits.file_size = 1024;
  JailSpec spec = make_spec(config, "/ws");
  auto limits = rlimits_from_json(to_init_json(spec).at("rlimits"));
  auto has = [&](int resource, rlim_t value) {
    return std::any_of(limits.begin(), limits.end(), [&](const Rlimit& l) { return l.resource == resource && l.value == value; });
  };
  CHECK(has(RLIMIT_NOFILE, 64));
  CHECK(has(RLIMIT_FSIZE, 1024));
  CHECK(has(RLIMIT_CORE, 0));
  CHECK_FALSE(std::any_of(limits.begin(), limits.end(), [](const Rlimit& l) { return l.resource == RLIMIT_NPROC; }));
  spec.pids_by_rlimit = spec.memory_by_rlimit = true;
  limits = rlimits_from_json(to_init_json(spec).at("rlimits"));
  CHECK(has(RLIMIT_NPROC, config.limits.pids));
  CHECK(has(RLIMIT_DATA, config.limits.memory));
}

TEST_CASE("expand_binds, keeps existing absolute paths, expands globs, sorts parents first") {
  auto paths = expand_binds({"/usr", "relative", "/definitely/not/here", "/usr/lib*", "/usr"});
  CHECK(paths.front() == "/usr");
  CHECK(std::count(paths.begin(), paths.end(), "/usr") == 1);
  CHECK(std::find(paths.begin(), paths.end(), "/usr/lib") != paths.end());
  CHECK(std::find(paths.begin(), paths.end(), "relative") == paths.end());
  CHECK(std::is_sorted(paths.begin(), paths.end()));
}

TEST_CASE("seccomp deny list, covers what the threat model names") {
  std::vector<std::string> names;
  for (const auto& d : denied_syscalls()) names.emplace_back(d.name);
  for (const char* required : {"mount", "umount2", "pivot_root", "chroot", "fsopen", "fsmount", "move_mount", "open_tree",
                               "ptrace", "process_vm_readv", "process_vm_writev", "bpf", "perf_event_open",
                               "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl",
                               "add_key", "request_key", "kexec_load", "kexec_file_load", "init_module",
                               "finit_module", "delete_module", "setns", "unshare", "clone3", "open_by_handle_at",
                               "name_to_handle_at", "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog",
                               "settimeofday", "clock_settime", "adjtimex"}) {
    CAPTURE(required);
    CHECK(std::find(names.begin(), names.end(), required) != names.end());
  }
  for (const auto& d : denied_syscalls()) {
    CHECK(d.err == (d.name == "clone3" || d.name == "openat2" ? ENOSYS : EPERM));
  }
}

TEST_CASE("seccomp program, builds to whole BPF instructions") {
  auto program = build_seccomp_program();
  REQUIRE(program.ok());
  CHECK(program->size() % 8 == 0);
  CHECK(program->size() > 8 * 50);
}
