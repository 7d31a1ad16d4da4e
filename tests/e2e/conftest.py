"""Shared fixtures for the end-to-end tests: they run the built binary as a user would,
with a private XDG state/config, an explicit config file and a clean environment."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SANDPIT = os.environ.get("SANDPIT_BIN") or str(Path(__file__).resolve().parents[2] / "build" / "sandpit")
PROBE = os.environ.get("SANDPIT_PROBE") or str(Path(__file__).resolve().parents[2] / "build" / "tests" / "sandpit-probe")
SOURCE_DIR = Path(os.environ.get("SANDPIT_SOURCE_DIR") or Path(__file__).resolve().parents[2])

# Exit codes from DESIGN.md.
SUCCESS, CODE_FAILED, USAGE, POLICY, DENIED, TIMED_OUT, SETUP = 0, 1, 2, 3, 4, 124, 125


class Sandpit:
    """Runs `sandpit` with a private state dir, config dir and workspace."""

    def __init__(self, root: Path):
        self.root = root
        self.state = root / "state"
        self.config_home = root / "config"
        self.workspace = root / "ws"
        for d in (self.state, self.config_home, self.workspace):
            d.mkdir(parents=True, exist_ok=True)
        self.config_file = root / "sandpit.toml"
        self.config_file.write_text("")
        # No warm pool unless a test asks for one (test_pool.py): pool sandboxes filling in the background
        # would slow every other test and outlive it. The user config, so that configure() keeps this.
        # SANDPIT_TEST_POOL=1 (ctest's e2e_pooled): the session tests again, each workspace's first run
        # taking a pool sandbox, to show that a pooled session behaves as a cold one.
        self.pooled = os.environ.get("SANDPIT_TEST_POOL") == "1"
        (self.config_home / "sandpit").mkdir()
        (self.config_home / "sandpit" / "config.toml").write_text(
            '[session]\npool = 1\n[languages.python]\npreload = ["json"]\n' if self.pooled else "[session]\npool = 0\n")
        self.system_file = root / "system.toml"  # read as the system config once written

    def system(self, text: str):
        """Writes the system config (sandpit reads it via SANDPIT_SYSTEM_CONFIG while /etc/sandpit has none)."""
        assert not Path("/etc/sandpit/config.toml").exists(), "tests need a machine without /etc/sandpit/config.toml"
        self.system_file.write_text(text)

    def audit_path(self) -> Path:
        return self.state / "sandpit" / "audit.jsonl"

    def audit_lines(self):
        """Every record of the log as stored: intents and outcomes alike."""
        path = self.audit_path()
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def audit_records(self):
        """One record per action, as `sandpit audit` shows them: an intent whose outcome is in the
        log is left out (the outcome, which names it in "intent", stands for both)."""
        lines = self.audit_lines()
        completed = {r["intent"] for r in lines if "intent" in r}
        return [r for r in lines if not (r.get("phase") == "intent" and r["hash"] in completed)]

    def configure(self, text: str):
        self.config_file.write_text(text)

    def env(self, extra=None):
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "XDG_STATE_HOME": str(self.state),
            "XDG_CONFIG_HOME": str(self.config_home),
            "SANDPIT_CONFIG": str(self.config_file),
        }
        if self.system_file.exists():
            env["SANDPIT_SYSTEM_CONFIG"] = str(self.system_file)
        env.update(extra or {})
        return env

    def run(self, *args, input=None, timeout=90, env=None, cwd=None, check=None):
        """Runs sandpit ARGS; returns CompletedProcess with text stdout/stderr."""
        proc = subprocess.run(
            [SANDPIT, *args],
            input=input,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=self.env(env),
            cwd=cwd or self.workspace,
        )
        if check is not None:
            assert proc.returncode == check, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        return proc

    def exec(self, code, *flags, language="python", **kw):
        return self.run("exec", "-w", str(self.workspace), "-l", language, "-c", code, *flags, **kw)

    def exec_json(self, code, *flags, language="python", **kw):
        proc = self.exec(code, "--json", *flags, language=language, **kw)
        assert proc.stdout.strip(), f"no JSON on stdout; stderr: {proc.stderr}"
        return proc, json.loads(proc.stdout)

    def shell(self, command, *flags, **kw):
        return self.run("shell", "-w", str(self.workspace), *flags, "--", command, **kw)

    def files_dir(self) -> Path:
        """The host folder mounted at /workspace (created by the first run). As root the files
        live in an ext4 image mounted in the session daemon's private mount namespace, so the
        folder is reached through the daemon's /proc/<pid>/root."""
        found = list((self.state / "sandpit" / "workspaces").glob("*/files"))
        assert len(found) == 1, found
        if not list(found[0].parent.glob("workspace.img")):
            return found[0]
        info = json.loads(self.run("session", "info", "-w", str(self.workspace), "--json", check=0).stdout)
        assert info.get("pid"), "the files live in an image: a session daemon must be running to see them"
        return Path(f"/proc/{info['pid']}/root{found[0]}")

    def put_probe(self) -> str:
        """Copies the static probe into /workspace; returns its path inside."""
        self.exec("pass", check=0)
        target = self.files_dir() / "sandpit-probe"
        shutil.copy(PROBE, target)
        target.chmod(0o755)
        if os.geteuid() == 0:
            os.chown(target, 65534, 65534)
        return "/workspace/sandpit-probe"

    def probe(self, *checks, **kw):
        """Runs the probe inside the jail; returns {check: result}."""
        if not getattr(self, "_probe", None):
            self._probe = self.put_probe()
        proc = self.shell(" ".join([self._probe, *checks]), **kw)
        results = {}
        for line in proc.stdout.splitlines():
            name, _, value = line.partition(" ")
            results[name] = value
        return proc, results


    def stop(self):
        """Stops the workspace's session daemon, if one runs; nothing may outlive a test."""
        if (self.state / "sandpit" / "workspaces").exists():
            self.run("session", "stop", "-w", str(self.workspace), timeout=30)


@pytest.fixture
def sp(tmp_path):
    sandpit = Sandpit(tmp_path)
    if sandpit.pooled:
        sandpit.run("session", "pool", "--wait", timeout=120, check=SUCCESS)
    yield sandpit
    sandpit.stop()
    if sandpit.pooled:
        # With a config of no test's making: a test may leave its own config unreadable on purpose.
        empty = tmp_path / "drain.toml"
        empty.write_text("")
        sandpit.run("session", "pool", "--drain", timeout=30, env={"SANDPIT_CONFIG": str(empty)}, check=SUCCESS)


def skip_unless(condition, reason):
    """Skips when `condition` is false, except in CI (SANDPIT_NO_SKIP=1), where a
    missing isolation layer must fail the run instead of hiding (STYLE.md)."""
    if condition:
        return
    if os.environ.get("SANDPIT_NO_SKIP") == "1":
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def has_cgroup_limits():
    """True when sandpit can put jails in a memory/pids cgroup on this host (v1 as root here)."""
    return os.geteuid() == 0 and Path("/sys/fs/cgroup/memory/cgroup.procs").exists() or Path(
        "/sys/fs/cgroup/cgroup.subtree_control").exists() and "memory" in Path(
        "/sys/fs/cgroup/cgroup.subtree_control").read_text()


def host_processes_matching(marker: str):
    """Host pids whose command line contains `marker` (sandboxed processes are visible from the host)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and "pytest" not in cmdline:
            pids.append(int(entry.name))
    return pids
