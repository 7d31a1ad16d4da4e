"""The seccomp deny list (src/jail/seccomp.cpp), proven from inside the jail.

Every denied syscall is made by hostile code in the sandbox and must fail with
exactly the errno the filter returns. The arguments are chosen so that the
unfiltered kernel answers differently wherever it can (ENOENT, EFAULT, EBADF,
EINVAL, ENOSYS or success, per the probe's comments), so these tests fail if
the filter is missing. A few calls answer EPERM without any filter too, since
the sandbox holds no capabilities (chroot, reboot, swapon, settimeofday,
vhangup...): there the filter is defence in depth and the test shows the call
is refused either way.
"""
import json
import platform
import re

import pytest

from conftest import SOURCE_DIR, Sandpit, skip_unless


@pytest.fixture(autouse=True)
def x86_64_only():
    skip_unless(platform.machine() == "x86_64", "syscall numbers, x32 and int 0x80 here are x86_64's")

# Probe checks (tests/probe/sandpit-probe.c) and the errno the filter must return.
PROBE_DENIED = {
    **{name: "EPERM" for name in (
        "mount umount2 pivot_root chroot fsopen fsmount fsconfig fspick open_tree move_mount mount_setattr "
        "setns unshare_user unshare_net unshare_ns clone_newuser clone_newns open_by_handle_at name_to_handle_at "
        "ptrace process_vm_readv process_vm_writev pidfd_getfd bpf perf_event_open userfaultfd io_uring_setup "
        "io_uring_enter io_uring_register keyctl add_key request_key lookup_dcookie kexec_load kexec_file_load "
        "init_module finit_module delete_module reboot swapon swapoff acct quotactl syslog settimeofday "
        "clock_settime adjtimex clock_adjtime personality tiocsti tiocsti_hi tioclinux tioclinux_hi").split()},
    "clone3": "ENOSYS",  # so that libc falls back to clone, whose flags the filter can see
    **{f"socket_{family}": "EAFNOSUPPORT" for family in "netlink packet bluetooth alg vsock key".split()},
}
PROBE_ALLOWED = ["getpid", "fork", "personality_query", "socket_unix", "socket_inet", "socket_inet6"]
KILLED_BY_SIGSYS = ["x32", "int80"]

# Denied syscalls the probe does not make: called from Python with ctypes.
# name -> (x86_64 number, arguments, returns an fd, what an unfiltered kernel says)
CTYPES_DENIED = {
    "iopl": (172, [0], False, "ok (same level) or ENOSYS"),
    "ioperm": (173, [0, 0, 0], False, "EINVAL (empty range) or ENOSYS"),
    "vhangup": (153, [], False, "EPERM (no CAP_SYS_TTY_CONFIG)"),
    "nfsservctl": (180, [0, 0, 0], False, "ENOSYS"),
    "uselib": (134, ["/nonexistent-sandpit"], False, "ENOENT or ENOSYS"),
    "_sysctl": (156, [0], False, "ENOSYS"),
    "move_pages": (279, [0, 0, 0, 0, 0, 0], False, "ok (no pages) or ENOSYS"),
    "migrate_pages": (256, [0, 0, 0, 0], False, "EINVAL or ok"),
    "mbind": (237, [0, 0, 0, 0, 0, 0], False, "ok (empty range)"),
    "set_mempolicy": (238, [0, 0, 0], False, "ok (MPOL_DEFAULT)"),
    "kcmp": (312, ["PID", "PID", 0, 0, 0], False, "ok (compares own fd 0)"),
    "fanotify_init": (300, [0x200, 0o2000000], True, "ok: FAN_REPORT_FID is allowed unprivileged"),
    "quotactl_fd": (443, [-1, 0, 0, 0], False, "EBADF"),
}
# clone(CLONE_THREAD | flag) without CLONE_SIGHAND is EINVAL in the kernel before any
# capability check, so EPERM can only come from the filter, and no child is ever made.
CLONE_NS_FLAGS = {"newns": 0x20000, "newcgroup": 0x02000000, "newuts": 0x04000000, "newipc": 0x08000000,
                  "newuser": 0x10000000, "newpid": 0x20000000, "newnet": 0x40000000}
CLONE_THREAD = 0x10000
# Argument-level rules, probed with the high 32 bits set where the kernel ignores them.
CTYPES_ARGUMENT_CHECKS = {
    **{f"clone_thread_{n}": ((56, [CLONE_THREAD | bit, 0, 0, 0, 0], False), "EPERM") for n, bit in CLONE_NS_FLAGS.items()},
    "clone_thread_control": ((56, [CLONE_THREAD, 0, 0, 0, 0], False), "EINVAL"),
    "socket_netlink_hi": ((41, [(1 << 32) | 16, 3, 0], True), "EAFNOSUPPORT"),  # unfiltered: ok
    "socket_family_200": ((41, [200, 1, 0], True), "EAFNOSUPPORT"),
    "personality_addr_no_randomize": ((135, [0x0040000], False), "EPERM"),  # unfiltered: ok, disables ASLR
    "personality_linux32_hi": ((135, [(1 << 32) | 0x0008], False), "EPERM"),
    "personality_default": ((135, [0], False), "ok"),
}

CTYPES_RUNNER = r"""
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def arg(a):
    if a == "PID": return ctypes.c_long(os.getpid())
    return ctypes.c_char_p(a.encode()) if isinstance(a, str) else ctypes.c_long(a)
def call(nr, args, returns_fd):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    if r < 0:
        e = ctypes.get_errno()
        return errno.errorcode.get(e, "errno=%d" % e)
    if returns_fd: os.close(r)
    if nr == 135: libc.syscall(ctypes.c_long(135), ctypes.c_long(0))  # undo a personality change
    return "ok"
print("RESULTS " + json.dumps({name: call(*spec) for name, spec in json.loads(SPECS).items()}))
"""


def seccomp_source_deny_list():
    """The DeniedSyscall{"name", ERR} entries of src/jail/seccomp.cpp."""
    text = (SOURCE_DIR / "src" / "jail" / "seccomp.cpp").read_text()
    return dict(re.findall(r'DeniedSyscall\{"(\w+)",\s*(E[A-Z]+)\}', text))


def run_ctypes_checks(sandpit, specs):
    code = f"SPECS = {json.dumps(json.dumps(specs))}\n" + CTYPES_RUNNER
    proc = sandpit.exec(code, check=0)
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULTS "))
    return json.loads(line[len("RESULTS "):])


@pytest.fixture(scope="module")
def msp(tmp_path_factory):
    return Sandpit(tmp_path_factory.mktemp("seccomp"))


@pytest.fixture(scope="module")
def probe_results(msp):
    proc, results = msp.probe(*PROBE_ALLOWED, *PROBE_DENIED)
    assert proc.returncode == 0, f"probe died: {proc.stdout}\n{proc.stderr}"
    return results


@pytest.fixture(scope="module")
def ctypes_results(msp):
    specs = {name: spec[:3] for name, spec in CTYPES_DENIED.items()}
    specs.update({name: spec for name, (spec, _) in CTYPES_ARGUMENT_CHECKS.items()})
    return run_ctypes_checks(msp, specs)


def test_every_syscall_of_the_deny_list_is_tested():
    deny_list = seccomp_source_deny_list()
    assert len(deny_list) > 40, "could not parse the deny list of seccomp.cpp"
    tested = {**PROBE_DENIED, **{n: "EPERM" for n in CTYPES_DENIED}, "unshare": PROBE_DENIED["unshare_user"]}
    missing = sorted(set(deny_list) - set(tested))
    assert not missing, f"denied in seccomp.cpp but not tested here: {missing}"
    wrong = {n: (err, tested[n]) for n, err in deny_list.items() if tested[n] != err}
    assert not wrong, f"errno in seccomp.cpp differs from the expectation here: {wrong}"


@pytest.mark.parametrize("check", sorted(PROBE_DENIED))
def test_probe_denied_syscall_fails_with_filter_errno(probe_results, check):
    assert probe_results.get(check) == PROBE_DENIED[check], f"{check}: {probe_results.get(check)}"


@pytest.mark.parametrize("check", PROBE_ALLOWED)
def test_control_syscall_is_allowed(probe_results, check):
    assert probe_results.get(check) == "ok"


@pytest.mark.parametrize("name", sorted(CTYPES_DENIED))
def test_denied_syscall_from_python_returns_eperm(ctypes_results, name):
    assert ctypes_results[name] == "EPERM", f"{name}: {ctypes_results[name]} (unfiltered: {CTYPES_DENIED[name][3]})"


@pytest.mark.parametrize("name", sorted(CTYPES_ARGUMENT_CHECKS))
def test_argument_filter(ctypes_results, name):
    assert ctypes_results[name] == CTYPES_ARGUMENT_CHECKS[name][1]


@pytest.mark.parametrize("check", KILLED_BY_SIGSYS)
def test_foreign_abi_syscall_kills_the_process(msp, check):
    probe = msp.put_probe()
    proc = msp.shell(f"{probe} {check}", "--json")
    result = json.loads(proc.stdout)
    assert result["stdout"] == "", f"{check} returned instead of being killed: {result['stdout']}"
    assert "Bad system call" in result["stderr"]
    assert result["exit_code"] == 128 + 31  # SIGSYS
    assert not result["success"]


def test_sigsys_kill_ends_only_the_offending_process(msp):
    """The shell around the killed probe goes on and sees status 128+SIGSYS."""
    probe = msp.put_probe()
    proc = msp.shell(f"{probe} int80; echo status=$?; {probe} getpid", check=0)
    assert "status=159" in proc.stdout
    assert "getpid ok" in proc.stdout
    assert "int80 " not in proc.stdout


def test_x32_syscall_in_a_thread_kills_the_whole_process(msp):
    """SCMP_ACT_KILL_PROCESS, not KILL_THREAD: the main thread must not live on."""
    code = ("import ctypes, threading\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "t = threading.Thread(target=lambda: libc.syscall(ctypes.c_long(0x40000000 | 39)))\n"
            "t.start(); t.join()\n"
            "print('main thread survived', flush=True)\n")
    proc, result = msp.exec_json(code)
    assert "survived" not in result["stdout"]
    assert result["exit_code"] == 128 + 31, result
