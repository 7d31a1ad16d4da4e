"""Privileges inside the sandbox: the sandbox user, no capabilities at all,
no_new_privs and seccomp, no terminal, no inherited descriptors, separate
namespaces, and (as host root) files owned by the host's nobody."""
import ctypes
import fcntl
import json
import os
import pty
import random
import subprocess
import termios
import time
from pathlib import Path

import pytest

from conftest import SANDPIT, host_processes_matching

ROOT_MODE_HOST_ID = 65534
ZERO_CAPS = "0000000000000000"
NAMESPACES = ["user", "pid", "mnt", "net", "ipc", "uts", "cgroup"]


def probe1(sp, check):
    proc, results = sp.probe(check)
    assert check in results, f"no result for {check}: {proc.stdout} {proc.stderr}"
    return results[check]


def probe_fields(line):
    """"CapInh:0000 ... Seccomp:2" -> {"CapInh": "0000", ...}"""
    return dict(item.split(":", 1) for item in line.split())


def run_sandpit_shell(sp, command, **popen):
    """Runs `sandpit shell --json COMMAND` directly, for extra fds or a terminal."""
    proc = subprocess.run([SANDPIT, "shell", "-w", str(sp.workspace), "--json", "--", command],
                          capture_output=True, text=True, timeout=90, env=sp.env(), cwd=sp.workspace, **popen)
    assert proc.stdout.strip(), f"no JSON; stderr: {proc.stderr}"
    return json.loads(proc.stdout)


def test_uid_and_gid_are_the_sandbox_user(sp):
    fields = probe1(sp, "uid").split()
    assert fields[0:3] == ["1000"] * 3 and fields[3] == "gid" and fields[4:7] == ["1000"] * 3
    groups = fields[8]
    if os.geteuid() == 0:
        assert groups == "-", "host root's supplementary groups must be dropped"
    else:  # unprivileged: the host's groups show as the overflow id and cannot be dropped
        assert set(groups.split(",")) <= {"-", "1000", str(ROOT_MODE_HOST_ID)}, groups


def test_all_capability_sets_are_empty(sp):
    caps = probe_fields(probe1(sp, "caps"))
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert caps[key] == ZERO_CAPS, f"{key}={caps[key]}"


def test_no_new_privs_and_seccomp_filter_are_set(sp):
    caps = probe_fields(probe1(sp, "caps"))
    assert caps["NoNewPrivs"] == "1"
    assert caps["Seccomp"] == "2"


def test_capabilities_are_empty_in_every_process_including_init(sp):
    out = sp.shell("grep -H -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/[0-9]*/status", check=0).stdout
    per_pid = {}
    for line in out.splitlines():
        path, key, value = line.split(":", 2)
        per_pid.setdefault(path.split("/")[2], {})[key] = value.strip()
    assert "1" in per_pid, "the jail init is not visible"
    for pid, fields in per_pid.items():
        assert {k: v for k, v in fields.items() if k.startswith("Cap") and v != ZERO_CAPS} == {}, pid
        assert fields["NoNewPrivs"] == "1" and fields["Seccomp"] == "2", (pid, fields)


@pytest.mark.parametrize("check", ["setuid0", "chown_root"])
def test_becoming_or_giving_files_to_root_fails(sp, check):
    # uid 0 has no mapping in the sandbox's user namespace: the kernel answers
    # EINVAL before it would even check CAP_SETUID/CAP_CHOWN (which are gone too).
    assert probe1(sp, check) in {"EPERM", "EINVAL"}


def test_setuid_root_mount_binary_cannot_mount(sp):
    """/usr/bin/mount is setuid root on most hosts; inside it must stay uid 1000 and fail."""
    if not os.path.exists("/usr/bin/mount"):
        pytest.skip("no /usr/bin/mount")
    out = sp.shell("mkdir -p mnt-attempt; /usr/bin/mount -t tmpfs none /workspace/mnt-attempt; echo rc=$?; "
                   "grep -c mnt-attempt /proc/self/mounts", check=None).stdout.split()
    assert out[-2] != "rc=0" and out[-1] == "0", out


def test_no_controlling_terminal(sp):
    assert probe1(sp, "tty") in {"ENOENT", "ENXIO"}


def test_host_controlling_terminal_does_not_reach_the_sandbox(sp):
    """sandpit runs as a session leader with a pty as its terminal and stdin."""
    sp.probe("getpid")
    master, slave = pty.openpty()
    try:
        result = run_sandpit_shell(
            sp, "/workspace/sandpit-probe tty read:/dev/tty; cut -d' ' -f7 /proc/self/stat; "
                "readlink /proc/self/fd/0; test -t 0 && echo stdin-is-a-tty || echo stdin-not-a-tty",
            stdin=slave, start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    finally:
        os.close(slave)
        os.close(master)
    lines = result["stdout"].splitlines()
    assert lines[0] in {"tty ENOENT", "tty ENXIO"} and lines[1] in {"read:/dev/tty ENOENT", "read:/dev/tty ENXIO"}
    assert lines[2] == "0", "tty_nr of a sandbox process is set"
    assert "pts" not in lines[3] and lines[4] == "stdin-not-a-tty", lines


def test_only_standard_fds_are_open(sp):
    assert probe1(sp, "fds") == "0,1,2"


def test_fds_passed_to_sandpit_do_not_leak_inside(sp, tmp_path):
    """runc CVE-2024-21626: a host fd (file or directory) inherited into the jail."""
    sp.probe("getpid")
    secret = tmp_path / "inherited-secret"
    secret.write_text("host secret via fd\n")
    opened = [os.open(secret, os.O_RDONLY), os.open("/", os.O_RDONLY | os.O_DIRECTORY)]
    fds = [os.dup2(opened[0], 50, inheritable=True), os.dup2(opened[1], 51, inheritable=True)]
    try:
        result = run_sandpit_shell(
            sp, "/workspace/sandpit-probe fds; ls -l /proc/[0-9]*/fd/ 2>/dev/null; "
                "cat /proc/self/fd/50 /proc/self/fd/51/etc/hostname 2>&1; true", pass_fds=fds)
    finally:
        for fd in opened + fds:
            os.close(fd)
    out = result["stdout"]
    assert out.splitlines()[0] == "fds 0,1,2"
    assert "host secret" not in out and str(secret) not in out
    assert out.count("No such file or directory") == 2, out


def test_namespaces_differ_from_the_host(sp):
    links = sp.shell(" ; ".join(f"readlink /proc/self/ns/{ns}" for ns in NAMESPACES), check=0).stdout.split()
    host = [os.readlink(f"/proc/self/ns/{ns}") for ns in NAMESPACES]
    assert len(links) == len(NAMESPACES)
    shared = [ns for ns, inside, outside in zip(NAMESPACES, links, host) if inside == outside]
    assert not shared, f"namespaces shared with the host: {shared}"


def test_host_sysv_shared_memory_is_invisible(sp):
    """IPC namespace: a segment the test creates on the host does not show inside."""
    libc = ctypes.CDLL(None, use_errno=True)
    key = random.randrange(1 << 20, 1 << 30)
    shmid = libc.shmget(key, 4096, 0o1000 | 0o600)  # IPC_CREAT
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    try:
        assert str(key) in Path("/proc/sysvipc/shm").read_text()
        inside = sp.shell("cat /proc/sysvipc/shm", check=0).stdout.splitlines()
    finally:
        libc.shmctl(shmid, 0, None)  # IPC_RMID
    assert len(inside) == 1 and inside[0].split()[0] == "key", inside


def test_cgroup_paths_of_the_host_are_hidden(sp):
    lines = sp.shell("cat /proc/self/cgroup", check=0).stdout.splitlines()
    assert lines and all(line.endswith(":/") for line in lines), lines


def expected_host_id():
    """What the sandbox user is on the host: nobody as root, else the invoking user."""
    return (ROOT_MODE_HOST_ID, ROOT_MODE_HOST_ID) if os.geteuid() == 0 else (os.geteuid(), os.getegid())


def test_files_created_inside_are_not_owned_by_host_root(sp):
    sp.shell("echo data > made-file; mkdir made-dir; ln -s made-file made-link; mkfifo made-fifo", check=0)
    files = sp.files_dir()
    for name in ("made-file", "made-dir", "made-link", "made-fifo"):
        st = os.lstat(files / name)
        assert (st.st_uid, st.st_gid) == expected_host_id(), name


def test_sandbox_processes_run_as_the_mapped_host_user(sp):
    """While a sandbox process sleeps, the host sees all its uids and gids as the mapped id."""
    marker = f"sandpit-e2e-sleeper-{os.getpid()}-42"  # spelt differently on sandpit's own command line
    proc = subprocess.Popen([SANDPIT, "shell", "-w", str(sp.workspace), "--",
                             f"exec -a sandpit-e2e-sleeper-{os.getpid()}-$((40 + 2)) sleep 30"],
                            env=sp.env(), cwd=sp.workspace, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ids = host_ids_of(marker)
    finally:
        proc.kill()
        proc.wait()
    assert ids == [{"Uid": {expected_host_id()[0]}, "Gid": {expected_host_id()[1]}}], ids


def host_ids_of(marker, timeout=10.0):
    """[{"Uid": {real, effective, saved, fs}, "Gid": {...}}] of the host processes running `marker`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = []
        for pid in host_processes_matching(marker):
            try:
                status = (Path("/proc") / str(pid) / "status").read_text().splitlines()
            except OSError:
                continue
            found.append({l.split(":")[0]: {int(x) for x in l.split()[1:]} for l in status
                          if l.startswith(("Uid:", "Gid:"))})
        if found:
            return found
        time.sleep(0.05)
    return []
