"""Full and read-only disks: an audit log that cannot take a record refuses every run (nothing runs
unaudited, nothing is torn); a full /workspace or /tmp gives the code ENOSPC and the session lives on.
Also the crash case for an unprivileged user."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SETUP, SUCCESS, skip_unless
from crash import actions, assert_nothing_left, fault, require_hooks, session_info, verify
from test_unprivileged import NOBODY, make_user_env, remove_user_env

REFUSED = "(nothing was run or changed: every action is recorded before it starts)"


@pytest.fixture
def small_disk(sp, tmp_path):
    """A 256 KiB tmpfs holding the audit log (set by the system config, as audit.path must be)."""
    skip_unless(os.geteuid() == 0, "mounting a small filesystem for the log needs root")
    disk = tmp_path / "auditfs"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "sandpit-test", str(disk)], check=True)
    sp.system(f'[audit]\npath = "{disk}/audit.jsonl"\n')
    yield disk
    sp.stop()
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk):
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def run_until_refused(sp):
    """The log's last page may still hold a record or two after the disk is full: runs until one is refused."""
    for _ in range(20):
        proc = sp.exec("pass")
        if proc.returncode == SETUP:
            return proc
        assert proc.returncode == SUCCESS, proc.stderr
    raise AssertionError("the audit log never filled up")


def test_a_full_audit_disk_refuses_runs_copies_and_fresh_runs(sp, small_disk, tmp_path):
    log = small_disk / "audit.jsonl"
    sp.exec("x = 1", check=SUCCESS)  # the session is up before the disk fills
    fill(small_disk)
    run_until_refused(sp)
    before = log.read_bytes()
    proc = sp.exec("open('ran.txt', 'w').write('1')", check=SETUP)
    assert proc.stdout == ""
    assert proc.stderr.endswith(f"sandpit: audit log {log}: No space left on device {REFUSED}\n"), proc.stderr
    proc = sp.exec("open('ran.txt', 'w').write('1')", "--fresh", check=SETUP)
    assert proc.stderr.endswith(f"No space left on device {REFUSED}\n")
    src = tmp_path / "up.txt"
    src.write_text("up")
    proc = sp.run("upload", str(src), check=SETUP)
    assert proc.stderr.endswith(f"No space left on device {REFUSED}\n")
    assert log.read_bytes() == before, "a write that failed part-way is cut off again: no torn line"
    (small_disk / "filler").unlink()
    assert sp.shell("ls /workspace; echo $?", check=SUCCESS).stdout == "0\n", "nothing ran and nothing was copied"
    assert sp.exec("print(x)", check=SUCCESS).stdout == "1\n", "the session lived through it"
    assert verify(sp).returncode == SUCCESS


def test_a_read_only_audit_disk_refuses_runs(sp, small_disk):
    sp.exec("x = 1", check=SUCCESS)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    proc = sp.exec("open('ran.txt', 'w').write('1')", check=SETUP)
    assert proc.stderr == f"sandpit: audit log {small_disk}/audit.jsonl: open: Read-only file system {REFUSED}\n", proc.stderr
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert sp.shell("ls /workspace | wc -l", check=SUCCESS).stdout == "0\n"
    assert verify(sp).returncode == SUCCESS


def test_a_full_workspace_gives_enospc_and_the_session_lives_on(sp):
    skip_unless(os.geteuid() == 0, "quotas use loop-mounted images, which need root")
    sp.configure('[limits]\nworkspace = "16MiB"\nfile_size = "1GiB"\n')
    sp.exec("x = 41", check=SUCCESS)
    daemon = session_info(sp)["pid"]
    code = ("try:\n    with open('fill', 'wb') as f:\n        while True: f.write(b'x' * (1 << 20))\n"
            "except OSError as e:\n    print('errno', e.errno)")
    proc = sp.exec(code, check=SUCCESS)
    assert proc.stdout == "errno 28\n" and "/workspace is full" in proc.stderr
    assert session_info(sp)["pid"] == daemon
    assert sp.exec("import os; os.remove('fill'); open('small', 'w').write('ok'); print(x + 1)", check=SUCCESS).stdout == "42\n"
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp)


def test_a_full_tmp_gives_enospc_and_the_session_lives_on(sp):
    sp.configure('[limits]\ntmp = "4MiB"\n')
    sp.exec("x = 41", check=SUCCESS)
    daemon = session_info(sp)["pid"]
    code = ("try:\n    with open('/tmp/fill', 'wb') as f:\n        while True: f.write(b'x' * (1 << 20))\n"
            "except OSError as e:\n    print('errno', e.errno)")
    assert sp.exec(code, check=SUCCESS).stdout == "errno 28\n"
    assert session_info(sp)["pid"] == daemon
    assert sp.exec("import os; os.remove('/tmp/fill'); open('/tmp/ok', 'w').write('ok'); print(x + 1)", check=SUCCESS).stdout == "42\n"
    assert_nothing_left(sp)


@pytest.fixture
def user_env():
    root, run = make_user_env(0o600)
    yield root, run
    remove_user_env(root, run)


def test_unprivileged_an_unwritable_log_refuses_the_run(user_env):
    root, run = user_env
    assert run("exec", "-c", "1").returncode == 0
    log = root / "home" / "state" / "sandpit" / "audit.jsonl"
    log.chmod(0o400)
    proc = run("exec", "-c", "open('/workspace/ran.txt', 'w').write('1')")
    assert proc.returncode == SETUP and proc.stderr.startswith(f"sandpit: audit log {log}: ") and "Permission denied" in proc.stderr
    log.chmod(0o600)
    assert run("shell", "--", "ls /workspace | wc -l").stdout == "0\n"


def test_unprivileged_kill_9_of_the_daemon_mid_cell_is_recorded_as_interrupted(user_env):
    require_hooks()
    root, run = user_env
    assert run("exec", "-c", "x = 1", extra_env=fault("daemon:mid-cell@2")).returncode == 0
    proc = run("exec", "-c", "print('hi')", extra_env=fault("daemon:mid-cell@2"))
    assert proc.returncode == SETUP and "did not finish: the session daemon (pid" in proc.stderr, proc.stderr
    out = run("audit", "--json").stdout.splitlines()
    assert "interrupted" in json.loads(out[-1])
    nxt = run("exec", "-c", "print('x' in dir())")
    assert nxt.stdout == "False\n" and "had died" in nxt.stderr
    assert run("audit", "verify").returncode == 0
