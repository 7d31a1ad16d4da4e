"""`exec --fresh` from the warm pool: a ready pool sandbox is lent to one fresh run — the workspace's files
are mounted over its jail's /workspace, the one cell runs in its kernel (which no cell has run in), and the
sandbox is gone after. It must be as fresh as a cold fresh run (no state before or after), see the
workspace's files and nothing else, be audited once, and leave no process, mount or loop device."""
import json
import os
import subprocess
import time
from pathlib import Path

from conftest import SUCCESS
from test_pool import POOL, fill, pool_sp, read_cmdline, slots  # noqa: F401 (pool_sp: the fixture)
from test_unprivileged import make_user_env, remove_user_env



def slot_processes(mine):
    return [p for p in Path("/proc").iterdir() if p.name.isdigit() and b"__pool-slot" in read_cmdline(p) and mine in read_cmdline(p)]


def fresh(sp, code, *args, workspace=None, **kw):
    """A --fresh run with SANDPIT_TRACE on; returns (process, whether it took a pool sandbox)."""
    ws = str(workspace or sp.workspace)
    proc = sp.run("exec", "--fresh", "-w", ws, *args, "-c", code, env={"SANDPIT_TRACE": "1"}, **kw)
    return proc, "pool: borrowed" in proc.stderr


def test_a_fresh_run_takes_a_ready_sandbox_and_sees_only_the_workspace(pool_sp):
    pool_sp.exec("open('/workspace/mine.txt', 'w').write('A')", check=SUCCESS)  # cold session: the pool was empty
    pool_sp.stop()
    fill(pool_sp)
    [slot] = slots(pool_sp)
    proc, pooled = fresh(pool_sp, "import os; print(os.getcwd(), sorted(os.listdir('/workspace')), open('mine.txt').read())", check=SUCCESS)
    assert pooled, proc.stderr
    assert proc.stdout == "/workspace ['mine.txt'] A\n"
    # The sandbox served once and is gone; the pool makes another.
    deadline = time.monotonic() + 60
    while (slot.exists() or not slots(pool_sp)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not slot.exists() and slots(pool_sp)
    # Its writes are the workspace's: a session sees them, and a fresh run sees the session's.
    fill(pool_sp)
    proc, pooled = fresh(pool_sp, "open('/workspace/from_fresh.txt', 'w').write('F')", check=SUCCESS)
    assert pooled
    assert pool_sp.exec("print(open('/workspace/from_fresh.txt').read())", check=SUCCESS).stdout == "F\n"


def test_a_fresh_run_from_the_pool_keeps_no_state_and_is_audited_once(pool_sp):
    fill(pool_sp)
    proc, pooled = fresh(pool_sp, "x = 1; print(x)", check=SUCCESS)
    assert pooled and proc.stdout == "1\n"
    fill(pool_sp)
    proc, pooled = fresh(pool_sp, "print(x)")
    assert pooled and proc.returncode == 1 and "NameError" in proc.stderr
    runs = [r for r in pool_sp.audit_records() if r.get("command") == "exec"]
    assert len(runs) == 2, runs
    assert runs[0]["success"] is True and runs[1]["success"] is False
    assert pool_sp.run("audit", "verify", check=SUCCESS).returncode == 0


def test_a_fresh_run_from_the_pool_times_out_and_reports_exit_codes_as_a_cold_one(pool_sp):
    fill(pool_sp)
    proc, pooled = fresh(pool_sp, "import sys; sys.exit(3)")
    assert pooled and proc.returncode == 1, proc.stderr
    fill(pool_sp)
    proc, pooled = fresh(pool_sp, "import time; time.sleep(30)", "--timeout", "1s")
    assert pooled and proc.returncode == 124
    fill(pool_sp)
    # A thread the cell started runs to its end, and atexit handlers run, before the fresh run ends.
    code = "import threading, time, atexit; atexit.register(lambda: print('bye')); threading.Thread(target=lambda: (time.sleep(0.2), print('late'))).start()"
    proc, pooled = fresh(pool_sp, code, check=SUCCESS)
    assert pooled and proc.stdout == "late\nbye\n"


def test_a_fresh_run_beside_a_live_session_shares_its_files(pool_sp):
    pool_sp.exec("open('/workspace/s.txt', 'w').write('S'); y = 2", check=SUCCESS)
    fill(pool_sp)
    proc, pooled = fresh(pool_sp, "print(open('/workspace/s.txt').read()); _ = open('/workspace/f.txt', 'w').write('F')", check=SUCCESS)
    assert pooled and proc.stdout == "S\n"
    assert pool_sp.exec("print(open('/workspace/f.txt').read(), y)", check=SUCCESS).stdout == "F 2\n"


def test_a_lent_sandbox_leaves_no_process_mount_or_loop_device(pool_sp):
    pool_sp.exec("pass", check=SUCCESS)
    pool_sp.stop()
    fill(pool_sp)
    [slot] = slots(pool_sp)
    proc, pooled = fresh(pool_sp, "print(1)", check=SUCCESS)
    assert pooled
    deadline = time.monotonic() + 10
    while slot_processes(str(slot).encode()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slot_processes(str(slot).encode()) == []
    assert str(slot) not in Path("/proc/self/mountinfo").read_text()
    if os.geteuid() == 0:
        image = next((pool_sp.state / "sandpit" / "workspaces").glob("*/workspace.img"))
        deadline = time.monotonic() + 5
        loops = "x"
        while loops and time.monotonic() < deadline:
            loops = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout
            time.sleep(0.05)
        assert loops == "", loops


def state_dir_of(sp, workspace):
    session = json.loads(sp.run("session", "info", "-w", str(workspace), "--json", check=SUCCESS).stdout)["session"]
    return sp.state / "sandpit" / "workspaces" / session[len("ws-"):]


def test_a_lent_sandbox_gets_the_workspace_profile_and_another_shape_runs_cold(pool_sp):
    pool_sp.exec("pass", check=SUCCESS)
    profile = state_dir_of(pool_sp, pool_sp.workspace) / "profile.json"
    pool_sp.stop()
    # The profile's variables reach the lent kernel, as they reach an adopted one.
    profile.write_text(json.dumps({"env": {"GREETING": "hi"}, "home": "", "user_name": ""}))
    fill(pool_sp)
    proc, pooled = fresh(pool_sp, "import os; print(os.environ['GREETING'])", check=SUCCESS)
    assert pooled and proc.stdout == "hi\n"
    # A sandbox of serve's shape (home /home/user) does not fit the CLI's pool sandboxes: a cold fresh run.
    profile.write_text(json.dumps({"env": {}, "home": "/home/user", "user_name": "user"}))
    fill(pool_sp)
    proc, pooled = fresh(pool_sp, "import os; print(os.getcwd())", check=SUCCESS)
    assert not pooled and proc.stdout == "/home/user\n"


def test_an_unprivileged_user_runs_fresh_from_the_pool(tmp_path):
    root, run = make_user_env(0o666)
    try:
        config = POOL + '[limits]\nworkspace = "16MiB"\n'
        out = run("session", "pool", "--wait", "--json", config=config, timeout=300)
        assert out.returncode == 0 and json.loads(out.stdout)["ready"] == 1, out.stderr
        proc = run("exec", "--fresh", "-c", "open('/workspace/a', 'w').write('1'); import os; print(os.getppid())",
                   config=config, extra_env={"SANDPIT_TRACE": "1"})
        assert proc.returncode == 0 and "pool: borrowed" in proc.stderr, proc.stderr
        assert proc.stdout == "0\n"  # its kernel came from the template (its parent is outside the jail)
        proc = run("exec", "--fresh", "-c", "print(open('/workspace/a').read())", config=config)
        assert proc.returncode == 0 and proc.stdout == "1\n", proc.stderr
        proc = run("exec", "-c", "open('/workspace/big', 'wb').write(b'x' * (32 << 20))", config=config)
        assert proc.returncode == 1 and "No space left on device" in proc.stderr
        run("session", "stop", config=config)
        run("session", "pool", "--drain", config=config)
    finally:
        remove_user_env(root, run)
