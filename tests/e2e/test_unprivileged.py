"""sandpit run by an ordinary user: the jail needs no privilege, and limits fall back to rlimits."""
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import SANDPIT, skip_unless

NOBODY = 65534


def make_user_env(fuse_mode):
    """A private HOME/XDG tree owned by `nobody`, and a runner that drops to it with setpriv.
    Each run gets a private mount namespace whose /dev/fuse is a node of mode `fuse_mode`
    (0o666: usable, as udev makes it; 0o600: root's only), so both paths are tested
    whatever this host's /dev/fuse is; daemons and the mount keeper stay in the namespace
    of the run that started them."""
    skip_unless(os.geteuid() == 0, "needs root to switch to an unprivileged user for the test")
    skip_unless(shutil.which("setpriv") is not None, "setpriv (util-linux) is missing")
    skip_unless(Path("/dev/fuse").exists(), "/dev/fuse is missing (modprobe fuse)")
    root = Path(tempfile.mkdtemp(prefix="sandpit-unpriv-"))
    root.chmod(0o755)
    for sub in ("home", "ws", "dev"):
        (root / sub).mkdir()
        os.chown(root / sub, NOBODY, NOBODY)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root / "home"), "LANG": "C.UTF-8",
           "XDG_STATE_HOME": str(root / "home" / "state"), "XDG_CONFIG_HOME": str(root / "home" / "config")}
    (root / "home" / "config" / "sandpit").mkdir(parents=True)
    (root / "home" / "config" / "sandpit" / "config.toml").write_text("[session]\npool = 0\n")  # as conftest's Sandpit
    for sub in ("config", "config/sandpit", "config/sandpit/config.toml"):
        os.chown(root / "home" / sub, NOBODY, NOBODY)
    dev = root / "dev"
    setup = (f"mount -t tmpfs -o mode=755 sandpit-dev {dev} && mknod -m {fuse_mode:o} {dev}/fuse c 10 229 && "
             f"mount --bind {dev}/fuse /dev/fuse && exec \"$@\"")

    def run(*args, config="", timeout=90, input=None, extra_env=None):
        (root / "home" / "sandpit.toml").write_text(config)
        os.chown(root / "home" / "sandpit.toml", NOBODY, NOBODY)
        cmd = ["unshare", "--mount", "sh", "-c", setup, "sh",
               "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all",
               "--bounding-set=-all", SANDPIT, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=root / "ws", input=input,
                              env={**env, "SANDPIT_CONFIG": str(root / "home" / "sandpit.toml"), **(extra_env or {})})

    return root, run


def remove_user_env(root, run):
    """Stops every session; nothing of the user's may outlive the test (the mount keeper
    and its fuse2fs processes end with their last client, or when their folder is gone)."""
    listed = run("session", "list", "--json")
    for session in json.loads(listed.stdout or "[]"):
        run("session", "stop", "-w", session["workspace"])
    shutil.rmtree(root, ignore_errors=True)
    deadline = time.monotonic() + 10
    while processes_of(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_of(root) == []


@pytest.fixture
def user_env():
    """An unprivileged user whose /dev/fuse is not usable: no quotas."""
    root, run = make_user_env(0o600)
    yield root, run
    remove_user_env(root, run)


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


@pytest.fixture
def fuse_user_env():
    """An unprivileged user with a usable /dev/fuse (udev's 0666): quotas through fuse2fs."""
    skip_unless(Path("/usr/bin/fuse2fs").exists(), "fuse2fs is missing (apt-get install fuse2fs)")
    root, run = make_user_env(0o666)
    yield root, run
    remove_user_env(root, run)


def processes_of(root):
    """Host pids of the user's sandpit processes under `root`: daemons, fuse2fs (by their
    arguments) and the mount keeper (by its environment)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "pytest" in cmdline:
            continue
        if str(root) in cmdline or ("__mount-keeper" in cmdline and str(root) in environ):
            found.append((int(entry.name), cmdline.replace("\0", " ").strip()))
    return found


def fill(path):
    return (f"import os\ntry:\n    with open('{path}', 'wb') as f:\n        while True:\n            f.write(b'x' * 65536)\n"
            f"except OSError as e:\n    print('errno', e.errno, os.path.getsize('{path}') >> 20)\n")


def test_unprivileged_doctor_says_quotas_are_enforced_through_fuse2fs(fuse_user_env):
    _, run = fuse_user_env
    report = json.loads(run("doctor", "--json").stdout)
    quotas = {c["layer"]: c for c in report["checks"]}["file quotas"]
    assert quotas["status"] == "ok" and "fuse2fs" in quotas["detail"], quotas


def test_unprivileged_code_that_fills_an_area_gets_enospc(fuse_user_env):
    root, run = fuse_user_env
    config = '[limits]\nworkspace = "24MiB"\npersist = "16MiB"\n'
    result = run_json(run, fill("/workspace/fill"), config=config)
    words = result["stdout"].split()
    assert words[:2] == ["errno", "28"] and 12 <= int(words[2]) < 24, result
    proc = run("exec", "--fresh", "--json", "-c", fill("/persist/fill"), config=config)
    words = json.loads(proc.stdout)["stdout"].split()
    assert words[:2] == ["errno", "28"] and 8 <= int(words[2]) < 16, proc.stdout
    assert "/persist is full" in proc.stderr
    # The files are in the images, not in the plain folders beneath them.
    assert not list((root / "home" / "state" / "sandpit").glob("**/fill"))


def test_unprivileged_kill_9_of_the_daemon_leaves_no_fuse2fs(fuse_user_env):
    root, run = fuse_user_env
    assert run("exec", "-c", "open('/workspace/kept', 'w').write('yes')").returncode == 0
    pid = json.loads(run("session", "info", "--json").stdout)["pid"]
    running = [cmd for _, cmd in processes_of(root)]
    assert sum("fuse2fs" in c for c in running) == 2 and sum("__mount-keeper" in c for c in running) == 1, running
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while processes_of(root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_of(root) == []
    image = next((root / "home" / "state" / "sandpit" / "workspaces").glob("*/workspace.img"))
    assert subprocess.run(["/sbin/e2fsck", "-fn", str(image)], capture_output=True).returncode == 0
    proc = run("exec", "-c", "print(open('/workspace/kept').read())")
    assert proc.stdout == "yes\n", proc.stderr


def test_unprivileged_sessions_copies_and_mcp_share_the_mounts(fuse_user_env):
    root, run = fuse_user_env
    other = root / "ws2"
    other.mkdir()
    os.chown(other, NOBODY, NOBODY)
    assert run("exec", "-c", "open('/persist/p', 'w').write('one')").returncode == 0
    assert run("exec", "-w", str(other), "-c", "print(open('/persist/p').read())").stdout == "one\n"
    src = root / "ws" / "in.txt"
    src.write_text("copied")
    os.chown(src, NOBODY, NOBODY)
    assert run("upload", str(src)).returncode == 0  # beside the running session
    assert run("exec", "-c", "print(open('in.txt').read())").stdout == "copied\n"
    assert run("session", "stop").returncode == 0
    assert run("exec", "-w", str(other), "-c", "print(open('/persist/p').read())").stdout == "one\n"
    # The MCP server is multi-threaded: its file worker reaches the areas through the keeper.
    calls = [{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
              "params": {"name": "upload_file", "arguments": {"path": "/workspace/m.txt", "content_base64": "aGVsbG8="}}},
             {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
              "params": {"name": "run_code", "arguments": {"code": "print(open('/workspace/m.txt').read(), open('/persist/p').read())"}}}]
    out = run("mcp", input="".join(json.dumps(c) + "\n" for c in calls)).stdout
    answers = {a["id"]: a for a in map(json.loads, out.splitlines())}
    assert not answers[1]["result"]["isError"], answers[1]
    assert "hello one" in answers[2]["result"]["content"][0]["text"], answers[2]
