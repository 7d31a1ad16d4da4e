"""The sandbox filesystem, proven from inside: a read-only root and system binds,
writable /workspace and private /tmp, read-only /proc/sys, a minimal /dev, no
host home, synthetic /etc and a /proc that shows only the sandbox."""
import os
import uuid
from pathlib import Path

import pytest

# Mounts that may be writable inside; everything else must be mounted "ro".
WRITABLE_MOUNTS = {"/persist", "/workspace", "/tmp", "/dev/shm", "/proc",
                   "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}
DEV_ENTRIES = {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr", "shm"}


def probe1(sp, check):
    """Runs one probe check; returns its result (ok or an errno name)."""
    proc, results = sp.probe(check)
    assert check in results, f"no result for {check}: {proc.stdout} {proc.stderr}"
    return results[check]


def inside(sp, command):
    """Runs a shell command inside; returns its stdout (the command must succeed)."""
    return sp.shell(command, check=0).stdout


def mountinfo(sp):
    """{mount point: per-mount options} from /proc/self/mountinfo inside."""
    mounts = {}
    for line in inside(sp, "cat /proc/self/mountinfo").splitlines():
        fields = line.split()
        mounts[fields[4]] = set(fields[5].split(","))
    return mounts


def host_secret(directory: Path) -> Path:
    path = directory / f"sandpit-secret-{uuid.uuid4().hex}"
    path.write_text("host secret\n")
    return path


@pytest.mark.parametrize("path", ["/sandpit-new-file", "/usr/sandpit-new-file", "/etc/sandpit-new-file",
                                  "/etc/passwd", "/dev/sandpit-new-file"])
def test_root_and_system_dirs_are_read_only(sp, path):
    assert probe1(sp, f"write:{path}") == "EROFS"


@pytest.mark.parametrize("path", ["/sandpit-new-dir", "/usr/sandpit-new-dir", "/etc/sandpit-new-dir"])
def test_mkdir_on_read_only_root_fails(sp, path):
    assert probe1(sp, f"mkdir:{path}") == "EROFS"


def test_every_mount_except_workspace_tmp_and_devices_is_read_only(sp):
    mounts = mountinfo(sp)
    assert {"/", "/usr", "/workspace", "/tmp", "/proc", "/proc/sys"} <= set(mounts)
    writable = {m for m, opts in mounts.items() if "ro" not in opts}
    assert writable <= WRITABLE_MOUNTS, f"unexpectedly writable: {sorted(writable - WRITABLE_MOUNTS)}"
    suid = {m for m, opts in mounts.items() if "nosuid" not in opts}
    assert not suid, f"mounts that honour setuid bits: {sorted(suid)}"


def test_system_bind_directories_reject_new_files(sp):
    # System binds sit at the same path as on the host, so the host can tell directories apart.
    dirs = [m for m in mountinfo(sp) if m.startswith(("/usr", "/etc/", "/bin", "/lib", "/sbin")) and os.path.isdir(m)]
    assert "/usr" in dirs
    proc, results = sp.probe(*[f"write:{d}/sandpit-new-file" for d in dirs])
    assert {check: r for check, r in results.items() if r != "EROFS"} == {}


def test_workspace_is_writable_and_shared_with_host(sp):
    inside(sp, "echo written-inside > /workspace/from-inside.txt")
    assert (sp.files_dir() / "from-inside.txt").read_text() == "written-inside\n"
    assert probe1(sp, "write:/workspace/probe-new-file") == "ok"


@pytest.mark.parametrize("target", ["/etc/passwd", "/usr/bin/bash", "/etc/ld.so.cache", "/dev/null"])
def test_hard_links_cannot_pull_outside_files_into_the_workspace(sp, target):
    """A hard link would let a later host-side reader (or writer) reach a file outside."""
    out = sp.shell(f"ln {target} /workspace/linked 2>&1; echo rc=$?", check=0).stdout
    assert "rc=0" not in out, out
    assert not (sp.files_dir() / "linked").exists()


def test_tmp_is_writable_and_private(sp):
    name = f"sandpit-private-{uuid.uuid4().hex}"
    out = inside(sp, f"echo secret > /tmp/{name} && cat /tmp/{name}")
    assert out == "secret\n"
    assert not (Path("/tmp") / name).exists()
    assert not list(sp.root.rglob(name)), "the sandbox /tmp leaked into the host state dir"
    # The session keeps its /tmp between executions; a fresh jail has its own.
    assert inside(sp, f"test -e /tmp/{name} && echo present || echo absent") == "present\n"
    fresh = sp.shell(f"test -e /tmp/{name} && echo present || echo absent", "--fresh", check=0).stdout
    assert fresh == "absent\n"


def test_host_tmp_is_not_visible(sp):
    secret = host_secret(Path("/tmp"))
    try:
        assert probe1(sp, f"read:{secret}") == "ENOENT"
    finally:
        secret.unlink()


def test_proc_sys_is_read_only(sp):
    assert probe1(sp, "write:/proc/sys/kernel/hostname") in {"EROFS", "EACCES"}
    assert "ro" in mountinfo(sp)["/proc/sys"]
    assert inside(sp, "cat /proc/sys/user/max_user_namespaces") == "0\n"


def test_dev_has_exactly_the_minimal_entries(sp):
    assert set(inside(sp, "ls -A /dev").split()) == DEV_ENTRIES


def test_dev_has_no_tty_or_block_devices(sp):
    for path in ("/dev/tty", "/dev/console", "/dev/ptmx", "/dev/mem", "/dev/kmsg", "/dev/vda", "/dev/sda"):
        assert probe1(sp, f"read:{path}") == "ENOENT", path


def test_mknod_is_refused(sp):
    assert probe1(sp, "mknod") == "EPERM"


def test_host_home_and_test_dirs_are_invisible(sp, tmp_path_factory):
    own_tmp = tmp_path_factory.mktemp("outside")
    secrets = [host_secret(own_tmp), host_secret(sp.root)]
    sp.probe("getpid")  # creates the workspace, so files_dir() exists
    proc, results = sp.probe(*[f"read:{s}" for s in secrets], f"read:{sp.files_dir()}", "read:/root",
                             f"read:{Path.home()}")
    assert proc.returncode == 0
    assert set(results.values()) == {"ENOENT"}, results


@pytest.mark.parametrize("path", ["/home", "/root", "/run", "/var", "/sys", "/mnt", "/opt", "/srv", "/boot",
                                  "/work", "/run/docker.sock", "/var/run"])
def test_host_only_paths_are_absent(sp, path):
    assert probe1(sp, f"stat:{path}") == "ENOENT"


def test_etc_shadow_is_absent_or_unreadable(sp):
    assert probe1(sp, "read:/etc/shadow") in {"ENOENT", "EACCES"}


def test_etc_passwd_is_synthetic(sp):
    passwd = inside(sp, "cat /etc/passwd")
    assert "sandbox:x:1000:1000:" in passwd
    host_users = {line.split(":")[0] for line in Path("/etc/passwd").read_text().splitlines() if line}
    inside_users = {line.split(":")[0] for line in passwd.splitlines() if line}
    assert inside_users & host_users <= {"root", "nobody"}
    assert inside_users == {"root", "sandbox", "nobody"}


def test_proc_shows_only_sandbox_processes(sp):
    pids = [int(p) for p in inside(sp, "ls /proc | grep -E '^[0-9]+$'").split()]
    assert 1 in pids and len(pids) < 10, pids
    commands = inside(sp, "cat /proc/[0-9]*/comm 2>/dev/null").split()
    assert "pytest" not in commands and "python3" not in commands


def test_host_pid_of_the_test_is_not_signalable(sp):
    me = os.getpid()
    out = inside(sp, f"kill -0 {me} 2>/dev/null && echo alive || echo gone; test -e /proc/{me} && echo seen || echo unseen")
    assert out.split() == ["gone", "unseen"]


def test_hostname_is_sandpit_and_the_host_keeps_its_own(sp):
    before = os.uname().nodename
    assert inside(sp, "cat /proc/sys/kernel/hostname; uname -n").split() == ["sandpit", "sandpit"]
    assert os.uname().nodename == before


def test_init_environment_is_not_readable(sp):
    result = probe1(sp, "read:/proc/1/environ")
    assert result in {"EACCES", "ok"}
    assert inside(sp, "cat /proc/1/environ 2>/dev/null | wc -c").strip() == "0"


@pytest.mark.parametrize("check", ["read:/proc/1/exe", "write:/proc/1/exe", "read:/proc/1/mem",
                                   "read:/proc/1/root/etc/passwd", "read:/proc/1/cwd/."])
def test_init_process_internals_are_unreachable(sp, check):
    assert probe1(sp, check) in {"EACCES", "EPERM"}, check
