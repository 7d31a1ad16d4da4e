"""What the crash tests share: arming SANDPIT_FAULT, and checking that a killed process left nothing behind."""
import json
import os
import subprocess
import time
from pathlib import Path

from conftest import SANDPIT, skip_unless

_hooks = None


def require_hooks():
    """The fault hooks are compiled out of Release builds; those cannot run these tests."""
    global _hooks
    if _hooks is None:
        proc = subprocess.run([SANDPIT, "--version"], env={"SANDPIT_FAULT": "client:main", "PATH": "/usr/bin:/bin"},
                              capture_output=True)
        _hooks = proc.returncode == -9
    skip_unless(_hooks, "this build has no fault-injection hooks (configure with -DSANDPIT_FAULT_INJECTION=ON)")


def fault(spec):
    """The environment that arms one fault: 'daemon:mid-cell', 'client:copy@2', ..."""
    return {"SANDPIT_FAULT": spec}


def _belongs_to(pid, root, ours):
    """Whether process `pid` names the test's folder in its arguments or environment (clients,
    daemons, mount keepers inherit XDG_STATE_HOME), or its parent does (a jail init has neither);
    a jail init whose owner is gone (reparented) counts too: nothing may orphan one."""
    for _ in range(4):
        try:
            base = Path(f"/proc/{pid}")
            cmdline = base.joinpath("cmdline").read_bytes()
            if str(root).encode() in cmdline + base.joinpath("environ").read_bytes():
                return True
            parent = int(base.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
            if b"__jail-init" in cmdline and not _same_binary(parent, ours):
                return True
            pid = parent
        except (OSError, ValueError, IndexError):
            return False
    return False


def _same_binary(pid, ours):
    try:
        st = os.stat(f"/proc/{pid}/exe")
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (ours.st_dev, ours.st_ino)


def our_processes(root=None):
    """Host pids running this build's sandpit binary (clients, daemons, jail inits, mount keepers);
    with `root`, only those of the test whose folder it is (another test's idle daemon is not ours)."""
    ours = os.stat(SANDPIT)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            st = os.stat(entry / "exe")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (ours.st_dev, ours.st_ino) and int(entry.name) != os.getpid():
            if root is None or _belongs_to(int(entry.name), root, ours):
                found.append(int(entry.name))
    return found


def wait_until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def stale_cgroups(pids, since=None):
    """cgroup v1 groups (sandpit/<pid>-<n>) named for these pids, or made since `since` (a time) by a
    process that is gone: left behind if nobody removed them."""
    found = []
    for controller in ("memory", "pids", "cpu"):
        base = Path("/sys/fs/cgroup") / controller / "sandpit"
        if not base.is_dir():
            continue
        for d in base.iterdir():
            owner = d.name.split("-")[0]
            try:
                recent = since is not None and d.stat().st_ctime >= since and not Path(f"/proc/{owner}").exists()
            except OSError:
                continue
            if owner in {str(p) for p in pids} or recent:
                found.append(str(d))
    return found


def loop_devices_of(root):
    """Loop devices whose backing file lies under `root`."""
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            if str(root) in backing.read_text():
                found.append(backing.parent.parent.name)
        except OSError:
            pass
    return found


def assert_nothing_left(sp, killed=(), since=None):
    """After the test's sessions are stopped: no process of this build runs, no mount or loop device of
    the test's state remains, and no cgroup of a killed process (the next jail removes those)."""
    sp.stop()
    assert wait_until(lambda: our_processes(sp.root) == []), f"processes left: {our_processes(sp.root)}"
    assert wait_until(lambda: loop_devices_of(sp.root) == []), f"loop devices left: {loop_devices_of(sp.root)}"
    mounts = [l for l in Path("/proc/self/mountinfo").read_text().splitlines() if str(sp.root) in l]
    assert mounts == []
    assert stale_cgroups(killed, since) == [], "cgroups left"


def actions(sp, *flags):
    """`sandpit audit --json`: one object per action, an unfinished intent marked."""
    out = sp.run("audit", "--json", "--limit", "0", *flags, check=0).stdout
    return [json.loads(line) for line in out.splitlines()]


def lines(sp):
    """Every record line of the audit log, as stored (intents included; a torn line is skipped)."""
    path = sp.audit_path()
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def verify(sp):
    return sp.run("audit", "verify")


def session_info(sp):
    return json.loads(sp.run("session", "info", "-w", str(sp.workspace), "--json", check=0).stdout)
