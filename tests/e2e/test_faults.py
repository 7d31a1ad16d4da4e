"""Kill -9 anywhere loses nothing: each phase of a run, a copy and a reset, with the process that
dies chosen by SANDPIT_FAULT (deterministic hooks; a Release build has none). After each: no
process, mount, loop device or cgroup is left, files are whole (old or new), the audit chain
verifies, the next run works and says what was lost."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SANDPIT, SETUP, SUCCESS, CODE_FAILED
from crash import actions, assert_nothing_left, fault, lines, require_hooks, session_info, verify, wait_until


@pytest.fixture(autouse=True)
def hooks():
    require_hooks()


def owner_pid(record):
    return record["owner"]["pid"]


def test_kill_9_of_the_daemon_mid_cell_leaves_a_record_marked_interrupted(sp):
    """The issue's case, with a plain kill -9 from outside: a cell writing 100 files."""
    sp.exec("x = 1", check=SUCCESS)
    daemon = session_info(sp)["pid"]
    code = ("import time\nfor i in range(100):\n    open(f'f{i}.txt', 'w').write(str(i) * 1000)\n"
            "    print(i, flush=True)\n    time.sleep(0.02)\n")
    proc = subprocess.Popen([SANDPIT, "exec", "-w", str(sp.workspace), "-c", code], env=sp.env(), cwd=sp.workspace,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while proc.stdout.readline().strip() != "30":
        pass
    os.kill(daemon, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == SETUP
    assert "sandpit: session: the session daemon went away during the execution" in err
    assert f"did not finish: the session daemon (pid {daemon}) died during it, and the session's state with it" in err, err
    run = actions(sp)[-1]
    assert run["command"] == "exec" and run["success"] is False and run["exit_code"] == 125
    assert run["interrupted"] == f"the session daemon (pid {daemon}) died"
    assert run["error"] == f"Interrupted: the session daemon (pid {daemon}) died before it ended"
    assert run["code_bytes"] == len(code) and run["started"].endswith("Z")
    stats = json.loads(sp.run("stats", "--json", check=SUCCESS).stdout)["total"]
    assert stats["executions"] == 2 and stats["successes"] == 1 and stats["interrupted"] == 1
    assert verify(sp).returncode == SUCCESS
    # The files the cell wrote are whole: each one all its digits, or not there.
    listing = sp.exec("import os\nfor n in sorted(os.listdir('.')):\n    s = open(n).read()\n"
                      "    assert len(s) == 1000 * len(n[1:-4]) and set(s) == set(n[1:-4]), n\nprint(len(os.listdir('.')))", check=SUCCESS)
    assert 30 <= int(listing.stdout) < 100
    assert_nothing_left(sp, killed=[daemon])


# (point, its arrival that kills, what the client says, whether the run shows as interrupted).
# Arrival 1 of start/jail-setup is the daemon's own start: nothing has run. The others are
# armed for the second cell (mid-output: the first cell prints nothing; kernel-start: the
# first kernel starts with the jail, the second is JavaScript's), after a first cell set x.
DAEMON_POINTS = [
    ("start", 1, "the session daemon exited at start", None),
    ("jail-setup", 1, "the session daemon exited at start", None),
    ("kernel-start", 2, "the session daemon went away during the execution", True),
    ("mid-cell", 2, "the session daemon went away during the execution", True),
    ("mid-output", 1, "the session daemon went away during the execution", True),
    ("result", 2, "the session daemon went away during the execution", True),
    ("recorded", 2, "the session daemon went away during the execution", False),
]


@pytest.mark.parametrize("point,nth,says,interrupted", DAEMON_POINTS, ids=[p[0] for p in DAEMON_POINTS])
def test_the_daemon_killed_at_each_phase(sp, point, nth, says, interrupted):
    env = fault(f"daemon:{point}@{nth}")
    started = time.time()
    if interrupted is None:
        proc = sp.exec("print(1)", env=env, check=SETUP)
    else:
        sp.exec("x = 1", env=env, check=SUCCESS)
        js = point == "kernel-start"
        proc = sp.exec("console.log('hi')" if js else "print('hi')", language="javascript" if js else "python", env=env, check=SETUP)
    assert says in proc.stderr, proc.stderr
    runs = [a for a in actions(sp) if a["command"] == "exec"]
    if interrupted is None:
        assert runs == []  # it never reached the sandbox: nothing ran, nothing to record
    else:
        last = runs[-1]
        assert ("interrupted" in last) is interrupted, last
        if interrupted:
            assert "did not finish: the session daemon (pid" in proc.stderr
        else:
            assert last["success"] is True and "did not finish" not in proc.stderr
    assert verify(sp).returncode == SUCCESS
    nxt = sp.exec("print('x' in dir())", check=SUCCESS)
    assert nxt.stdout == "False\n", "a new session starts without the dead one's state"
    if interrupted is not None:
        assert "the session daemon of this workspace had died; a new session starts without its state" in nxt.stderr
    assert "did not finish" not in nxt.stderr, "what was lost is said once"
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp, since=started)


@pytest.mark.parametrize("point", ["jail-setup", "mid-cell", "mid-output"])
def test_the_jail_init_killed_at_each_phase(sp, point):
    # The second cell's: the first sets x (and prints nothing, so mid-output's first arrival is the second cell's).
    env = fault({"jail-setup": "init:jail-setup", "mid-cell": "init:mid-cell@2", "mid-output": "init:mid-output@1"}[point])
    if point == "jail-setup":
        proc = sp.exec("print(1)", env=env)
        assert proc.returncode == SETUP and "sandbox setup failed" in proc.stderr, proc.stderr
    else:
        sp.exec("x = 1", env=env, check=SUCCESS)
        # Long enough that the init's death ends the cell, not the cell's own end.
        proc = sp.exec("print('hi', flush=True)\nimport time; time.sleep(2)", env=env)
        assert proc.returncode == CODE_FAILED and "the sandbox ended before the execution finished" in proc.stderr, proc.stderr
        last = actions(sp)[-1]
        assert last["success"] is False and last["error"].startswith("SandboxLost") and "interrupted" not in last
    nxt = sp.exec("print(2)", check=SUCCESS)
    assert nxt.stdout == "2\n"
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp)


@pytest.mark.parametrize("point", ["mid-cell", "mid-output", "result"])
def test_a_fresh_client_killed_mid_run(sp, point):
    proc = sp.exec("print('hi')", "--fresh", env=fault(f"client:{point}"))
    assert proc.returncode == -signal.SIGKILL
    intent = lines(sp)[-1]
    assert intent["phase"] == "intent" and intent["owner"]["role"] == "client"
    assert actions(sp)[-1]["interrupted"] == f"no outcome was recorded; the sandpit client (pid {owner_pid(intent)}) is gone"
    nxt = sp.exec("print(2)", "--fresh", check=SUCCESS)
    assert f"exec (python, 11 bytes) started {intent['ts']} did not finish: the sandpit client (pid {owner_pid(intent)}) died during it" in nxt.stderr
    assert "interrupted" in [a for a in actions(sp) if a["command"] == "exec"][-2]
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp, killed=[owner_pid(intent)])


def test_a_session_client_killed_mid_cell_is_recorded_by_the_daemon(sp):
    sp.exec("x = 1", check=SUCCESS)
    # Killed once the cell has written: at "started" the SIGINT the daemon sends may land before the
    # driver enters the cell, be ignored, and the kernel be SIGKILLed after the grace period.
    proc = sp.exec("print('go', flush=True)\nimport time; time.sleep(30)", env=fault("client:output"))
    assert proc.returncode == -signal.SIGKILL
    # The daemon sees its client gone, stops the cell, and records the outcome itself.
    assert wait_until(lambda: actions(sp)[-1].get("intent") is not None and actions(sp)[-1]["success"] is False)
    assert sp.exec("print(x)", check=SUCCESS).stdout == "1\n", "the session lives on"
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp)


def test_a_torn_audit_line_is_reported_never_dropped(sp):
    # The daemon (started with the fault armed) dies halfway through writing the second run's outcome (its 4th append).
    sp.exec("x = 1", env=fault("daemon:audit-line@4"), check=SUCCESS)
    proc = sp.exec("print('hi')", check=SETUP)
    assert "did not finish: the session daemon" in proc.stderr, proc.stderr
    assert "line 4 is torn" in proc.stderr
    report = verify(sp)
    assert report.returncode == CODE_FAILED and "line 4: torn record" in report.stdout
    assert "broken chain" not in report.stdout
    nxt = sp.exec("print(2)", check=SUCCESS)
    assert nxt.stdout == "2\n"
    skipped = sp.run("audit", check=SUCCESS)
    assert "skipped 1 line(s) that are not records, the first at line 4" in skipped.stderr
    runs = [a for a in actions(sp) if a["command"] == "exec"]
    assert [("interrupted" in r, r["success"]) for r in runs] == [(False, True), (True, False), (False, True)]
    assert_nothing_left(sp)


def test_a_torn_intent_means_nothing_ran(sp):
    marker = "/workspace/ran.txt"
    proc = sp.exec(f"open('{marker}', 'w').write('1')", "--fresh", env=fault("client:audit-line@1"))
    assert proc.returncode == -signal.SIGKILL
    assert sp.shell(f"test -e {marker}; echo $?", check=SUCCESS).stdout == "1\n"
    assert "line 1: torn record" in verify(sp).stdout
    assert_nothing_left(sp)


def big_file(path, byte, size=1 << 20):
    path.write_bytes(bytes([byte]) * size)
    return path


def test_an_upload_killed_mid_copy_leaves_the_old_file_whole(sp, tmp_path):
    sp.run("upload", str(big_file(tmp_path / "a.bin", 0x61)), "data.bin", check=SUCCESS)
    proc = sp.run("upload", str(big_file(tmp_path / "b.bin", 0x62)), "data.bin", env=fault("client:copy@3"))
    assert proc.returncode == -signal.SIGKILL
    listing = sp.shell("ls -A /workspace; python3 -c \"import sys; d=open('/workspace/data.bin','rb').read(); print(len(d), set(d))\"",
                       check=SUCCESS)
    assert "sandpit-upload" not in listing.stdout, "no temporary file is left"
    assert listing.stdout.splitlines()[-1] == "1048576 {97}", "the old version, whole"
    # The next action in the workspace (here the shell) records the lost upload and says so.
    assert "upload (" in listing.stderr and "did not finish: the sandpit client" in listing.stderr, listing.stderr
    nxt = sp.run("upload", str(tmp_path / "b.bin"), "data.bin", check=SUCCESS)
    assert "did not finish" not in nxt.stderr
    assert [a.get("interrupted") is not None for a in actions(sp) if a["command"] == "upload"] == [False, True, False]
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp)


def test_a_download_killed_mid_copy_leaves_no_half_file(sp, tmp_path):
    sp.run("upload", str(big_file(tmp_path / "a.bin", 0x61)), "data.bin", check=SUCCESS)
    out = tmp_path / "out"
    out.mkdir()
    proc = sp.run("download", "data.bin", str(out / "data.bin"), env=fault("client:copy@3"))
    assert proc.returncode == -signal.SIGKILL
    assert list(out.iterdir()) == []
    (out / "data.bin").write_text("old")
    proc = sp.run("download", "--force", "data.bin", str(out / "data.bin"), env=fault("client:copy@3"))
    assert proc.returncode == -signal.SIGKILL
    assert [p.name for p in out.iterdir()] == ["data.bin"] and (out / "data.bin").read_text() == "old"
    sp.run("download", "--force", "data.bin", str(out / "data.bin"), check=SUCCESS)
    assert (out / "data.bin").read_bytes() == b"a" * (1 << 20)
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp)


def test_a_volume_import_killed_mid_extract_leaves_whole_files(sp, tmp_path):
    src = tmp_path / "vol"
    src.mkdir()
    for name, byte in (("one.bin", 0x31), ("two.bin", 0x32), ("three.bin", 0x33)):
        big_file(src / name, byte, 200_000)
    tar = tmp_path / "vol.tar"
    subprocess.run(["tar", "-cf", str(tar), "-C", str(src), "one.bin", "two.bin", "three.bin"], check=True)
    proc = sp.run("volume", "import", str(tar), env=fault("client:extract@2"))
    assert proc.returncode == -signal.SIGKILL
    listing = sp.shell("ls -A /persist; for f in /persist/*.bin; do python3 -c \"import sys; d=open(sys.argv[1],'rb').read(); print(len(d), len(set(d)))\" $f; done",
                       check=SUCCESS)
    assert "sandpit-import" not in listing.stdout
    assert listing.stdout.split("\n")[0].split() == ["one.bin"], listing.stdout
    assert "200000 1" in listing.stdout
    assert "import (" in listing.stderr and "did not finish" in listing.stderr, listing.stderr
    sp.run("volume", "import", str(tar), check=SUCCESS)
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp)


def test_a_reset_killed_midway_leaves_whole_files_and_a_record(sp):
    sp.exec("for i in range(5): open(f'f{i}.txt', 'w').write(str(i) * 100)", env=fault("daemon:reset@2"), check=SUCCESS)
    proc = sp.run("session", "reset", "-w", str(sp.workspace))
    assert proc.returncode == SETUP and "the session daemon went away" in proc.stderr
    reset = [a for a in actions(sp) if a["command"] == "reset"][-1]
    assert reset["success"] is False and "went away" in reset["error"]
    left = sp.exec("import os\nfor n in os.listdir('.'):\n    assert open(n).read() == n[1] * 100\nprint(len(os.listdir('.')))", check=SUCCESS)
    assert int(left.stdout) == 3  # two of the five were removed before the daemon died
    sp.run("session", "reset", "-w", str(sp.workspace), check=SUCCESS)
    assert sp.shell("ls -A /workspace | wc -l", check=SUCCESS).stdout == "0\n"
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp)


def test_a_daemon_killed_during_its_idle_exit(sp):
    sp.configure('[session]\nidle_timeout = "1s"\n')
    sp.exec("x = 1", env=fault("daemon:idle-exit"), check=SUCCESS)
    pid = session_info(sp)["pid"]
    assert wait_until(lambda: not Path(f"/proc/{pid}").exists(), 10)
    assert sp.exec("print('x' in dir())", check=SUCCESS).stdout == "False\n"
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp, killed=[pid])
