"""sandpit run by an ordinary user: the jail needs no privilege, and limits fall back to rlimits."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import SANDPIT, skip_unless

NOBODY = 65534


@pytest.fixture
def user_env():
    """A private HOME/XDG tree owned by `nobody`, and a runner that drops to it with setpriv."""
    skip_unless(os.geteuid() == 0, "needs root to switch to an unprivileged user for the test")
    skip_unless(shutil.which("setpriv") is not None, "setpriv (util-linux) is missing")
    root = Path(tempfile.mkdtemp(prefix="sandpit-unpriv-"))
    root.chmod(0o755)
    for sub in ("home", "ws"):
        (root / sub).mkdir()
        os.chown(root / sub, NOBODY, NOBODY)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"), "LANG": "C.UTF-8",
           "XDG_STATE_HOME": str(root / "home" / "state"), "XDG_CONFIG_HOME": str(root / "home" / "config")}

    def run(*args, config=""):
        (root / "home" / "sandpit.toml").write_text(config)
        os.chown(root / "home" / "sandpit.toml", NOBODY, NOBODY)
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all",
               "--bounding-set=-all", SANDPIT, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=root / "ws",
                              env={**env, "SANDPIT_CONFIG": str(root / "home" / "sandpit.toml")})

    yield root, run
    run("session", "stop")
    shutil.rmtree(root, ignore_errors=True)


def run_json(run, code, language="python", config=""):
    proc = run("exec", "--json", "-l", language, "-c", code, config=config)
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def test_unprivileged_user_gets_the_same_jail(user_env):
    root, run = user_env
    result = run_json(run, "import os; print(os.getuid(), open('/proc/self/status').read().count('CapEff:\\t0000000000000000'))")
    assert result["success"], result
    assert result["stdout"] == "1000 1\n"
    proc = run("shell", "--", "touch /workspace/made-here; hostname; ls /")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "sandpit"
    made = list((root / "home" / "state" / "sandpit" / "workspaces").glob("*/files/made-here"))
    assert len(made) == 1 and made[0].stat().st_uid == NOBODY


def test_unprivileged_typescript_runs_under_the_rlimits(user_env):
    # esbuild (Go) starts inside the jail under RLIMIT_DATA and RLIMIT_NPROC, not a cgroup.
    root, run = user_env
    result = run_json(run, "const x: number = 41; x + 1", language="ts", config='[limits]\nmemory = "256MiB"\n')
    assert result["success"] and result["result"] == {"text/plain": "42"}, result


def test_unprivileged_doctor_says_why_no_cgroup(user_env):
    _, run = user_env
    report = json.loads(run("doctor", "--json").stdout)
    limits = {c["layer"]: c for c in report["checks"]}["limits"]
    assert "cgroup" in limits["detail"]


def test_unprivileged_memory_limit_falls_back_to_rlimit(user_env):
    _, run = user_env
    result = run_json(run, "b = bytearray(512 * 1024 * 1024)", config='[limits]\nmemory = "128MiB"\n')
    assert result["error"]["name"] in ("MemoryError", "OutOfMemory"), result


def test_unprivileged_process_limit_falls_back_to_rlimit(user_env):
    _, run = user_env
    code = ("import subprocess\nprocs = []\ntry:\n    for _ in range(64):\n"
            "        procs.append(subprocess.Popen(['sleep', '30']))\n"
            "except OSError as e:\n    print('stopped at', len(procs), e.errno)\n")
    result = run_json(run, code, config="[limits]\npids = 16\n")
    words = result["stdout"].split()
    assert words[:2] == ["stopped", "at"], result
    assert int(words[2]) < 16 and int(words[3]) == 11


def test_unprivileged_timeout_still_kills_everything(user_env):
    _, run = user_env
    proc = run("shell", "--fresh", "--timeout", "1s", "--", "setsid sleep 4251 & sleep 4252")
    assert proc.returncode == 124
    out = subprocess.run(["pgrep", "-f", "sleep 425[12]"], capture_output=True, text=True).stdout
    assert out.strip() == ""


def test_unprivileged_files_round_trip_and_doctor_says_quotas_are_not_enforced(user_env):
    root, run = user_env
    src = root / "ws" / "in.txt"
    src.write_text("from the host")
    os.chown(src, NOBODY, NOBODY)
    assert run("upload", str(src), "/persist/in.txt").returncode == 0
    proc = run("shell", "--", "cat /persist/in.txt > /workspace/out.txt; ln -s /etc/shadow /workspace/link")
    assert proc.returncode == 0, proc.stderr
    assert run("download", "out.txt", str(root / "ws" / "out.txt")).returncode == 0
    assert (root / "ws" / "out.txt").read_text() == "from the host"
    refused = run("download", "link", str(root / "ws" / "link"))
    assert refused.returncode == 2 and "symbolic link" in refused.stderr
    doctor = run("doctor")
    assert "file quotas" in doctor.stdout and "not enforced" in doctor.stdout
