"""The warm pool (session.pool): sandboxes made ahead, each handed to one new workspace. What a pooled
session must be: as private as a cold one, as empty, with the same state rules; and the pool must clean up
after itself however its sandboxes end."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SUCCESS, host_processes_matching
from test_unprivileged import make_user_env, remove_user_env

POOL = '[session]\npool = 1\n[languages.python]\npreload = ["json"]\n'


@pytest.fixture
def pool_sp(sp):
    sp.configure(POOL)
    yield sp
    sp.stop()  # first: a daemon that took a slot asks for a refill a moment later
    drain_all(sp)


def drain_all(sp):
    """`session pool --drain` until no slot or template of this test's is left: a refill that a served
    slot asked for just before may start after one drain."""
    mine = str(sp.state).encode()
    left = lambda: [p for p in Path("/proc").iterdir() if p.name.isdigit() and b"__pool-slot" in read_cmdline(p) and mine in read_cmdline(p)]
    deadline = time.monotonic() + 15
    sp.run("session", "pool", "--drain", check=0)
    while (left() or templates_of(sp)) and time.monotonic() < deadline:
        time.sleep(0.3)
        sp.run("session", "pool", "--drain", check=0)
    assert not left() and templates_of(sp) == []


def read_cmdline(proc_dir):
    try:
        return (proc_dir / "cmdline").read_bytes()
    except OSError:
        return b""


def fill(sp, **kw):
    out = sp.run("session", "pool", "--wait", "--json", check=SUCCESS, timeout=300, **kw)
    return json.loads(out.stdout)


def info(sp, workspace):
    return json.loads(sp.run("session", "info", "-w", str(workspace), "--json", check=SUCCESS).stdout)


def descendants(pid):
    """pid and every process below it, by the ppid links in /proc."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def pid_ns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def family_of(daemon):
    """The daemon, its jail's init and every process in the jail's pid namespace (a kernel forked from a
    template is the template's child on the host, not the init's)."""
    out = descendants(daemon)
    spaces = {pid_ns(p) for p in out} - {pid_ns(daemon), None}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in out and pid_ns(entry.name) in spaces:
            out.append(int(entry.name))
    return out


def templates_of(sp):
    """The Python template processes of this test's state folder."""
    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"sandpit-template" in read_cmdline(entry) and \
                    os.readlink(entry / "cwd").startswith(str(sp.state)):
                out.append(int(entry.name))
        except OSError:
            pass
    # Not the spare child each template keeps forked for its next kernel.
    return [p for p in out if ppid_of(p) not in out]


def ppid_of(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def slot_daemons(slot):
    """The `sandpit __pool-slot SLOT` processes (host_processes_matching skips paths with "pytest" in them)."""
    out = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if len(argv) > 2 and argv[1] == b"__pool-slot" and argv[2] == str(slot).encode():
            out.append(int(entry.name))
    return out


def alive(pids):
    out = []
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(p)
    return out


def new_workspace(sp, name):
    path = sp.root / name
    path.mkdir()
    return path


def slots(sp):
    return sorted((sp.state / "sandpit" / "pool").glob("*/slot-*"))


def test_a_new_workspace_takes_a_ready_sandbox_and_the_pool_refills(pool_sp):
    assert fill(pool_sp) == {"size": 1, "ready": 1, "starting": 0}
    [slot] = slots(pool_sp)
    proc = pool_sp.exec("import sys; print('json' in sys.modules, len([n for n in dir() if 'sandpit' in n]))", check=SUCCESS)
    assert proc.stdout == "True 0\n"  # preloaded, and nothing of the preload in the user's names
    got = info(pool_sp, pool_sp.workspace)
    assert got["pooled"] is True and got["execution_count"] == 1, got
    assert got["workspace"] == str(pool_sp.workspace)
    # The slot served once: its folder is gone, and a new one is made in the background.
    deadline = time.monotonic() + 120
    while (not slots(pool_sp) or slot in slots(pool_sp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert slots(pool_sp) and slot not in slots(pool_sp)
    # Its audit record names the workspace and the session as any other.
    record = [r for r in pool_sp.audit_records() if r.get("command") == "exec"][-1]
    assert record["workspace"] == str(pool_sp.workspace) and record["session"].startswith("ws-ws-"), record


def cpu_knob(pid, v1, v2):
    """The value of cgroup v1's `v1` or v2's `v2` file for the cgroup `pid` is in, or None without one."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for root, name, knob in (("/sys/fs/cgroup/cpu", "cpu", v1), ("/sys/fs/cgroup", "", v2)):
            if name in controllers.split(",") or (not name and not controllers):
                f = Path(root + path) / knob
                if f.exists():
                    return int(f.read_text())
    return None


def cpu_weight(pid):
    return cpu_knob(pid, "cpu.shares", "cpu.weight")


def test_a_sandbox_being_made_yields_the_cpu_and_gets_it_back_when_taken(pool_sp):
    fill(pool_sp)
    [slot] = slots(pool_sp)
    daemon = int((slot / "pid").read_text())
    kernel = [p for p in family_of(daemon) if b"python3" in read_cmdline(Path(f"/proc/{p}"))][0]
    background = cpu_weight(kernel)
    if background is None:
        pytest.skip("no cpu controller for sandpit's cgroups here")
    idle = cpu_knob(kernel, "cpu.idle", "cpu.idle")  # None: a kernel older than 5.15
    # SCHED_IDLE as a group, any task that wakes takes the CPU at once (the kernel then shows its idle
    # weight, 3); or else the least weight v2 / v1 take. Either way its preload yields to sessions in use.
    assert idle == 1 or (idle is None and background in (1, 2)), (idle, background)
    pool_sp.exec("print(1)", check=SUCCESS)
    assert info(pool_sp, pool_sp.workspace)["pooled"] is True
    assert cpu_weight(kernel) in (100, 1024)  # the defaults, once it serves a workspace
    assert cpu_knob(kernel, "cpu.idle", "cpu.idle") in (0, None)


def test_a_pooled_workspace_is_new_private_and_persistent(pool_sp):
    fill(pool_sp)
    assert pool_sp.exec("import os; print(sorted(os.listdir('/workspace')))", check=SUCCESS).stdout == "[]\n"
    pool_sp.exec("open('/workspace/mine.txt', 'w').write('A')", check=SUCCESS)
    other = new_workspace(pool_sp, "other")
    fill(pool_sp)
    out = pool_sp.run("exec", "-w", str(other), "-c", "import os; print(sorted(os.listdir('/workspace')))", check=SUCCESS)
    assert out.stdout == "[]\n"
    assert info(pool_sp, other)["pooled"] is True
    # The files are the workspace's: in its own image, there after its daemon is gone.
    assert (pool_sp.state / "sandpit" / "workspaces").glob("ws-*/workspace.img")
    pool_sp.stop()
    assert pool_sp.exec("print(open('/workspace/mine.txt').read())", check=SUCCESS).stdout == "A\n"
    assert info(pool_sp, pool_sp.workspace)["pooled"] is False  # an image exists now: a cold start mounts it
    pool_sp.run("session", "stop", "-w", str(other), check=0)


def test_state_and_quota_work_as_in_a_cold_session(pool_sp):
    pool_sp.configure(POOL + '[limits]\nworkspace = "16MiB"\n')
    fill(pool_sp)
    pool_sp.exec("x = 41", check=SUCCESS)
    assert pool_sp.exec("x + 1", check=SUCCESS).stdout == "42\n"
    proc = pool_sp.exec("open('/workspace/big', 'wb').write(b'x' * (32 << 20))")
    assert proc.returncode == 1 and "No space left on device" in proc.stderr
    assert info(pool_sp, pool_sp.workspace)["pooled"] is True
    # restart and reset behave as they do anywhere.
    pool_sp.run("session", "restart", check=SUCCESS)
    assert "NameError" in pool_sp.exec("x").stderr
    pool_sp.run("session", "reset", check=SUCCESS)
    assert pool_sp.exec("import os; print(os.listdir('/workspace'))", check=SUCCESS).stdout == "[]\n"


def test_an_empty_preload_gives_a_cold_kernel_and_interrupts_and_deaths_behave(pool_sp):
    pool_sp.configure('[session]\npool = 1\n[languages.python]\npreload = []\n')
    fill(pool_sp)
    cold = "import sys; print(sorted(m for m in ('json', 'numpy', 'pandas', 'matplotlib') if m in sys.modules))"
    assert pool_sp.exec(cold, check=SUCCESS).stdout == "[]\n"
    assert info(pool_sp, pool_sp.workspace)["pooled"] is True
    pool_sp.exec("kept = 1", check=SUCCESS)
    # A timeout interrupts the cell and keeps the kernel's state, as in a cold session.
    proc = pool_sp.exec("import time; time.sleep(30)", "--timeout", "1s")
    assert proc.returncode == 124
    assert pool_sp.exec("print(kept)", check=SUCCESS).stdout == "1\n"
    # A kernel that dies is replaced, and the run says state was lost.
    pool_sp.exec("import os; os._exit(3)")
    proc = pool_sp.exec("print('again')", check=SUCCESS)
    assert proc.stdout == "again\n"


def test_a_workspace_that_has_files_starts_cold(pool_sp):
    pool_sp.exec("open('/workspace/f', 'w').write('x')", check=SUCCESS)  # cold: the pool was empty
    assert info(pool_sp, pool_sp.workspace)["pooled"] is False
    pool_sp.stop()
    fill(pool_sp)
    assert pool_sp.exec("print(open('/workspace/f').read())", check=SUCCESS).stdout == "x\n"
    assert info(pool_sp, pool_sp.workspace)["pooled"] is False
    assert len(slots(pool_sp)) == 1  # the ready one is still there


def test_a_changed_config_does_not_take_sandboxes_made_before(pool_sp):
    fill(pool_sp)
    pool_sp.configure(POOL + '[limits]\ntimeout = "7s"\n')
    pool_sp.exec("pass", check=SUCCESS)
    assert info(pool_sp, pool_sp.workspace)["pooled"] is False


def test_pool_zero_makes_nothing(sp):
    sp.configure('[session]\npool = 0\n')
    sp.exec("pass", check=SUCCESS)
    out = json.loads(sp.run("session", "pool", "--json", check=SUCCESS).stdout)
    assert out == {"size": 0, "ready": 0, "starting": 0}
    assert not list((sp.state / "sandpit").glob("pool/*/slot-*"))


def test_kill_9_of_a_sandbox_leaves_nothing_behind(pool_sp):
    fill(pool_sp)
    [slot] = slots(pool_sp)
    image = slot / "workspace.img"
    [daemon] = slot_daemons(slot)
    family = family_of(daemon)
    assert len(family) >= 3, family  # the daemon, the jail's init, the kernel
    os.kill(daemon, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(family) == []
    if os.geteuid() == 0:
        loops = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout
        deadline = time.monotonic() + 5
        while loops and time.monotonic() < deadline:
            time.sleep(0.1)
            loops = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout
        assert loops == "", loops
    assert str(slot) not in Path("/proc/self/mountinfo").read_text()
    # The next fill clears the dead slot's folder and makes a new one.
    fill(pool_sp)
    assert slot not in slots(pool_sp) and len(slots(pool_sp)) == 1


def test_session_pool_needs_no_workspace_and_bad_flags_are_refused(pool_sp):
    proc = pool_sp.run("session", "info", "--wait")
    assert proc.returncode == 2 and "only with 'session pool'" in proc.stderr


def test_an_unprivileged_user_gets_a_pool_too(tmp_path):
    root, run = make_user_env(0o666)
    try:
        config = POOL + '[limits]\nworkspace = "16MiB"\n'
        out = run("session", "pool", "--wait", "--json", config=config, timeout=300)
        assert out.returncode == 0 and json.loads(out.stdout)["ready"] == 1, out.stderr
        proc = run("exec", "-c", "open('/workspace/a', 'w').write('1'); print(open('/workspace/a').read())", config=config)
        assert proc.returncode == 0 and proc.stdout == "1\n", proc.stderr
        got = json.loads(run("session", "info", "--json", config=config).stdout)
        assert got["pooled"] is True, got
        proc = run("exec", "-c", "open('/workspace/big', 'wb').write(b'x' * (32 << 20))", config=config)
        assert proc.returncode == 1 and "No space left on device" in proc.stderr
        # The mount keeper serves the workspace's image under its new name: a new daemon finds it.
        run("session", "stop", config=config)
        proc = run("exec", "-c", "print(open('/workspace/a').read())", config=config)
        assert proc.returncode == 0 and proc.stdout == "1\n", proc.stderr
        run("session", "pool", "--drain", config=config)
    finally:
        remove_user_env(root, run)
