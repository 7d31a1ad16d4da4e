"""The seccomp deny list (src/jail/seccomp.cpp), proven from inside the jail: every denied
syscall, made by hostile code in the sandbox, fails with exactly the filter's errno. Arguments
are chosen so the unfiltered kernel answers otherwise where it can (ENOENT, EFAULT, EBADF,
EINVAL, ENOSYS, success). Where it would say EPERM anyway for lack of capabilities (chroot,
reboot, vhangup...), the filter read back from a live sandbox process proves the rule.
"""
import ctypes
import json
import os
import platform
import re
import struct
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SANDPIT, SOURCE_DIR, Sandpit, host_processes_matching, skip_unless


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

# Denied syscalls the probe does not make, called from Python with ctypes:
# name -> (x86_64 number, arguments, returns an fd). Unfiltered kernel: iopl "ok" or ENOSYS,
# ioperm EINVAL/ENOSYS, vhangup EPERM, nfsservctl/_sysctl ENOSYS, uselib ENOENT/ENOSYS,
# move_pages/mbind/set_mempolicy/kcmp/fanotify_init(FAN_REPORT_FID) "ok", quotactl_fd EBADF.
CTYPES_DENIED = {
    "iopl": (172, [0], False), "ioperm": (173, [0, 0, 0], False), "vhangup": (153, [], False),
    "nfsservctl": (180, [0, 0, 0], False), "uselib": (134, ["/nonexistent-sandpit"], False),
    "_sysctl": (156, [0], False), "move_pages": (279, [0] * 6, False), "migrate_pages": (256, [0] * 4, False),
    "mbind": (237, [0] * 6, False), "set_mempolicy": (238, [0, 0, 0], False),
    "kcmp": (312, ["PID", "PID", 0, 0, 0], False), "fanotify_init": (300, [0x200, 0o2000000], True),
    "quotactl_fd": (443, [-1, 0, 0, 0], False),
    "open_tree_attr": (467, [-1, "", 0, 0, 0], False),  # unfiltered: EBADF (or ENOSYS before 6.15)
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
    # No setuid/setgid bits on files (the workspace is a host folder). Unfiltered: ENOENT.
    **{f"{name}_{bit}": ((nr, [*lead, "/nonexistent-sandpit/x", *pre, mode, *post], False), "EPERM")
       for bit, mode in (("setuid", 0o4755), ("setgid", 0o2755))
       for name, nr, lead, pre, post in (("chmod", 90, [], [], []), ("fchmodat", 268, [-100], [], []),
                                         ("fchmodat2", 452, [-100], [], [0]), ("mkdir", 83, [], [], []),
                                         ("creat", 85, [], [], []), ("openat_creat", 257, [-100], [0o101], []))},
    "chmod_plain_control": ((90, ["/nonexistent-sandpit/x", 0o755], False), "ENOENT"),
    # socketpair makes sockets too: AF_UNIX only. Unfiltered: EOPNOTSUPP / ENODEV / EFAULT.
    "socketpair_netlink": ((53, [16, 3, 0, 0], False), "EAFNOSUPPORT"),
    "socketpair_vsock": ((53, [40, 1, 0, 0], False), "EAFNOSUPPORT"),
    "socketpair_family_200": ((53, [200, 1, 0, 0], False), "EAFNOSUPPORT"),
    # openat2 carries its mode in a struct the filter cannot read: ENOSYS, libc uses openat.
    # Unfiltered: EFAULT (no struct).
    "openat2": ((437, [-100, "/nonexistent-sandpit", 0, 24], False), "ENOSYS"),
    "openat_creat_plain_control": ((257, [-100, "/nonexistent-sandpit/x", 0o101, 0o755], False), "ENOENT"),
}
# socket(AF_INET, SOCK_PACKET): the kernel turns it into an AF_PACKET socket.
INET_SOCK_PACKET = (41, [2, 10, 0], True)

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
    sandpit = Sandpit(tmp_path_factory.mktemp("seccomp"))
    yield sandpit
    sandpit.stop()


@pytest.fixture(scope="module")
def probe_results(msp):
    proc, results = msp.probe(*PROBE_ALLOWED, *PROBE_DENIED)
    assert proc.returncode == 0, f"probe died: {proc.stdout}\n{proc.stderr}"
    return results


@pytest.fixture(scope="module")
def ctypes_results(msp):
    specs = dict(CTYPES_DENIED)
    specs.update({name: spec for name, (spec, _) in CTYPES_ARGUMENT_CHECKS.items()})
    specs["inet_sock_packet"] = INET_SOCK_PACKET
    return run_ctypes_checks(msp, specs)


def test_every_syscall_of_the_deny_list_is_tested():
    deny_list = seccomp_source_deny_list()
    assert len(deny_list) > 40, "could not parse the deny list of seccomp.cpp"
    tested = {**PROBE_DENIED, **{n: "EPERM" for n in CTYPES_DENIED}, "unshare": PROBE_DENIED["unshare_user"],
              "openat2": CTYPES_ARGUMENT_CHECKS["openat2"][1]}
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
    assert ctypes_results[name] == "EPERM", f"{name}: {ctypes_results[name]}"


@pytest.mark.parametrize("name", sorted(CTYPES_ARGUMENT_CHECKS))
def test_argument_filter(ctypes_results, name):
    assert ctypes_results[name] == CTYPES_ARGUMENT_CHECKS[name][1]


def test_inet_sock_packet_is_refused(ctypes_results):
    assert ctypes_results["inet_sock_packet"] != "ok"


def test_inet_sock_packet_is_stopped_by_the_family_filter(ctypes_results):
    assert ctypes_results["inet_sock_packet"] == "EAFNOSUPPORT"


@pytest.mark.parametrize("check", KILLED_BY_SIGSYS)
def test_foreign_abi_syscall_kills_the_process(msp, check):
    probe = msp.put_probe()
    proc = msp.shell(f"{probe} {check}", "--json")
    result = json.loads(proc.stdout)
    assert result["stdout"] == "", f"{check} returned instead of being killed: {result['stdout']}"
    assert "Bad system call" in result["stderr"] and result["exit_code"] == 128 + 31  # SIGSYS


def test_sigsys_kill_ends_only_the_offending_process(msp):
    """The shell around the killed probe goes on and sees status 128+SIGSYS."""
    probe = msp.put_probe()
    proc = msp.shell(f"{probe} int80; echo status=$?; {probe} getpid", check=0)
    assert "status=159" in proc.stdout and "getpid ok" in proc.stdout and "int80 " not in proc.stdout


def test_x32_syscall_in_a_thread_kills_the_whole_process(msp):
    """SCMP_ACT_KILL_PROCESS, not KILL_THREAD: the main thread must not live on."""
    code = ("import ctypes, threading\nlibc = ctypes.CDLL(None)\n"
            "t = threading.Thread(target=lambda: libc.syscall(ctypes.c_long(0x40000000 | 39)))\n"
            "t.start(); t.join(); print('main thread survived', flush=True)\n")
    proc, result = msp.exec_json(code)
    assert "survived" not in result["stdout"] and result["exit_code"] == 128 + 31, result


# --- The filter itself, read back from a live sandbox process and run on seccomp_data. ---
RET_ALLOW, RET_KILL_PROCESS, RET_ERRNO, AUDIT_ARCH_X86_64, AUDIT_ARCH_I386 = 0x7FFF0000, 0x80000000, 0x50000, 0xC000003E, 0x40000003
ERRNO = {"EPERM": 1, "ENOSYS": 38, "EAFNOSUPPORT": 97}


def syscall_numbers():
    header = next((p for p in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h")
                   if os.path.exists(p)), None)
    skip_unless(header, "no asm/unistd_64.h to resolve syscall numbers")
    return {m[0]: int(m[1]) for m in re.findall(r"#define __NR_(\w+) (\d+)", Path(header).read_text())}


def ptrace_seccomp_filter(pid):
    """The classic-BPF program of `pid`'s first seccomp filter (PTRACE_SECCOMP_GET_FILTER)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype, libc.ptrace.argtypes = ctypes.c_long, [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

    def ptrace(request, addr=None, data=None):
        r = libc.ptrace(request, pid, addr, data)
        assert r >= 0, f"ptrace({request:#x}): {os.strerror(ctypes.get_errno())}"
        return r
    ptrace(0x4206)  # PTRACE_SEIZE, then PTRACE_INTERRUPT: the filter can only be read from a stopped tracee
    try:
        ptrace(0x4207)
        os.waitpid(pid, 0x40000000)  # __WALL
        buf = ctypes.create_string_buffer(8 * ptrace(0x420C, 0))
        ptrace(0x420C, 0, ctypes.addressof(buf))
    finally:
        libc.ptrace(0x11, pid, None, None)  # PTRACE_DETACH
    return [struct.unpack_from("<HBBI", buf.raw, i) for i in range(0, len(buf.raw), 8)]


def run_filter(program, nr, *args, arch=AUDIT_ARCH_X86_64):
    """Runs the opcodes libseccomp emits on one seccomp_data; returns the SECCOMP_RET_* value."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *(list(args) + [0] * 6)[:6])
    jumps = {0x15: lambda a, k: a == k, 0x25: lambda a, k: a > k, 0x35: lambda a, k: a >= k, 0x45: lambda a, k: a & k}
    a = pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        if code == 0x20:  # ld [k]
            a = struct.unpack_from("<I", data, k)[0]
        elif code == 0x54:  # and #k
            a &= k
        elif code in jumps:
            pc += jt if jumps[code](a, k) else jf
        elif code == 0x05:  # ja
            pc += k
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"BPF opcode {code:#x} not emulated here")


@pytest.fixture(scope="module")
def installed_filter(msp):
    if os.geteuid() != 0:  # a test-harness limit, not a missing jail layer: a plain skip
        pytest.skip("reading a seccomp filter back needs CAP_SYS_ADMIN on the host")
    marker = f"sandpit-seccomp-dump-{os.getpid()}-7"
    proc = subprocess.Popen([SANDPIT, "shell", "-w", str(msp.workspace), "--", f"exec -a {marker[:-1]}$((3+4)) sleep 30"],
                            env=msp.env(), cwd=msp.workspace, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if pids := host_processes_matching(marker):
                return ptrace_seccomp_filter(pids[0])
            time.sleep(0.05)
        pytest.fail("the sandboxed sleeper never showed up on the host")
    finally:
        proc.kill()
        proc.wait()


def test_installed_filter_returns_the_listed_errno_for_every_denied_syscall(installed_filter):
    numbers = syscall_numbers()
    results = {name: run_filter(installed_filter, numbers[name]) for name in seccomp_source_deny_list() if name in numbers}
    assert results == {name: RET_ERRNO | ERRNO[err] for name, err in seccomp_source_deny_list().items() if name in numbers}
    assert len(results) > 40


def test_installed_filter_argument_rules_and_architectures(installed_filter):
    nr = syscall_numbers()
    run = lambda name, *args, **kw: run_filter(installed_filter, nr[name], *args, **kw)
    for name in ("read", "write", "openat", "getpid", "execve", "mmap"):
        assert run(name) == RET_ALLOW, name
    assert run("clone", 17) == RET_ALLOW  # fork: SIGCHLD only
    assert all(run("clone", 17 | bit) == RET_ERRNO | 1 for bit in CLONE_NS_FLAGS.values())
    for request in (0x5412, 0x541C, 0x1_0000_5412, 0xFFFF_FFFF_0000_541C):  # TIOCSTI, TIOCLINUX
        assert run("ioctl", 1, request) == RET_ERRNO | 1, hex(request)
    assert run("ioctl", 1, 0x5401) == RET_ALLOW  # TCGETS
    assert [f for f in range(256) if run("socket", f, 1, 0) == RET_ALLOW] == [1, 2, 10]
    assert run("socket", 0x1_0000_0010, 3, 0) == RET_ERRNO | 97
    assert [p for p in (0, 0xFFFFFFFF, 8, 0x40000, 0x0400000, 0x80000000, 0xFFFFFFFE)
            if run("personality", p) == RET_ALLOW] == [0, 0xFFFFFFFF]
    assert run_filter(installed_filter, 0x40000000 | nr["getpid"]) == RET_KILL_PROCESS  # x32
    assert run_filter(installed_filter, 20, arch=AUDIT_ARCH_I386) == RET_KILL_PROCESS  # int 0x80
