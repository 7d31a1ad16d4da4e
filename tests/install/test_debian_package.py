"""The Debian package, as an admin and a user would meet it: built by CPack from
the existing build, installed with `apt-get install ./sandpit_*.deb` (its
dependencies resolved by apt), used from a folder outside the checkout
(--version, exec, man, bash completion, doctor, the MCP server), then purged,
after which nothing of it is left but the user's own state.

Needs root and dpkg; skips otherwise (fails in CI). The package is removed in
the fixture's teardown even when a test fails, with whatever apt pulled in
for it, so the machine is left as it was found."""
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD_DIR, CPACK, User, built_version, expected_files, run, skip_unless

APT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
_sockets = itertools.count()


def installed_packages():
    out = run(["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Status}\n"], env=APT_ENV).stdout
    return {name for name, _, status in (line.partition("\t") for line in out.splitlines()) if status == "installed"}


def apt_get(*args, check=0):
    # Wait for a dpkg lock held by someone else rather than fail at once.
    return run(["apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=120", *args], env=APT_ENV, check=check, timeout=600)


class Package:
    """The package on this machine: install() once, purge() at least once."""

    def __init__(self, deb: Path, user: User):
        self.deb = deb
        self.user = user
        self.before = installed_packages()
        self.pulled_in = set()
        self.files = []  # dpkg -L, taken while installed

    def install(self):
        # Dependencies from the archive: apt needs package lists, which a fresh
        # machine may not have yet.
        try:
            if apt_get("install", "--no-install-recommends", str(self.deb), check=None).returncode != 0:
                apt_get("update")
                apt_get("install", "--no-install-recommends", str(self.deb))
        finally:
            self.pulled_in = installed_packages() - self.before - {"sandpit"}
        self.files = [line for line in run(["dpkg", "-L", "sandpit"], env=APT_ENV).stdout.splitlines() if line != "/."]

    def purge(self):
        """Removes the package and what apt pulled in for it; a no-op once done."""
        if run(["dpkg-query", "-W", "sandpit"], env=APT_ENV, check=None).returncode == 0:  # installed, or its config left
            if "sandpit" in installed_packages():
                self.user.stop_sessions()  # daemons run the installed binary: stop them while it exists
            apt_get("remove", "--purge", "sandpit")
        if self.pulled_in & installed_packages():
            apt_get("remove", "--purge", *sorted(self.pulled_in & installed_packages()))


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    skip_unless(os.geteuid() == 0, "installing a Debian package needs root")
    skip_unless(shutil.which("dpkg") and shutil.which("apt-get"), "dpkg and apt-get are needed (a Debian machine)")
    skip_unless("sandpit" not in installed_packages(),
                "a sandpit package is already installed here; this test will not replace it")
    root = tmp_path_factory.mktemp("deb")
    # From the existing build: cpack installs it into a staging folder, strips
    # the binary and writes the .deb (seconds; nothing is recompiled).
    run([CPACK, "-G", "DEB", "-B", str(root / "out"), "--config", str(BUILD_DIR / "CPackConfig.cmake")], timeout=300)
    debs = list((root / "out").glob("sandpit_*.deb"))
    assert len(debs) == 1, debs
    package = Package(debs[0], User(root))
    etc_before = Path("/etc/sandpit").exists()
    try:
        package.install()
        yield package
    finally:
        package.purge()
        assert Path("/etc/sandpit").exists() == etc_before, "installing or purging sandpit changed /etc/sandpit"


def control(deb, field):
    return run(["dpkg-deb", "-f", str(deb), field]).stdout.strip()


def test_control_fields_name_what_sandpit_runs(package):
    assert control(package.deb, "Version") == built_version()
    depends = {d.strip() for d in control(package.deb, "Depends").split(",")}
    assert {"python3", "nodejs", "esbuild", "bash", "e2fsprogs"} <= depends
    recommends = {d.strip() for d in control(package.deb, "Recommends").split(",")}
    assert {"python3-numpy", "python3-pandas", "python3-matplotlib"} <= recommends


def test_the_package_holds_the_install_rules_files_and_leaves_etc_to_the_admin(package):
    files = {f for f in package.files if not Path(f).is_dir()}
    assert files == {f"/usr/{rel}" for rel in expected_files("/usr")}
    assert not any(f.startswith("/etc") for f in package.files), package.files
    assert run(["dpkg-query", "-W", "-f", "${Conffiles}", "sandpit"]).stdout.strip() == ""
    assert not Path("/etc/sandpit/config.toml").exists()


def test_sandpit_on_path_prints_the_package_version(package):
    user = package.user
    assert shutil.which("sandpit", path=user.path) == "/usr/bin/sandpit"
    assert user.run("sandpit", "--version").stdout == f"sandpit {control(package.deb, 'Version')}\n"


def test_exec_runs_code_from_a_folder_outside_the_checkout(package):
    assert package.user.run("sandpit", "exec", "-c", "print(1)", timeout=90).stdout == "1\n"


def test_man_finds_the_page(package):
    skip_unless(shutil.which("man"), "man is not installed (apt-get install man-db)")
    assert package.user.run("man", "-w", "sandpit").stdout.strip() == "/usr/share/man/man1/sandpit.1"


def test_doctor_finds_every_layer_and_interpreter(package):
    proc = package.user.run("sandpit", "doctor", "--json", check=None, timeout=120)
    report = json.loads(proc.stdout)
    failed = [c for c in report["checks"] if c["status"] == "FAIL"]
    assert proc.returncode == 0 and report["ok"], f"doctor failed: {failed}\nstderr: {proc.stderr}"
    status = {c["layer"]: c["status"] for c in report["checks"]}
    for interpreter in ("python", "javascript", "typescript", "bash"):
        assert status.get(interpreter) == "ok", f"{interpreter}: {report['checks']}"


def test_the_readmes_mcp_config_runs_the_installed_binary(package):
    """{"command": "sandpit", "args": ["mcp"]}: started by name, as an MCP client does."""
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "install-test", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "run_code", "arguments": {"code": "print(6 * 7)"}}},
    ]
    stdin = "".join(json.dumps(m) + "\n" for m in messages)
    proc = package.user.run("sandpit", "mcp", input=stdin, timeout=90)
    answers = {a.get("id"): a for a in map(json.loads, proc.stdout.splitlines())}
    assert answers[1]["result"]["serverInfo"]["version"] == built_version()
    call = answers[2]["result"]
    assert not call["isError"] and "\n42\n" in call["content"][0]["text"], call


class InteractiveBash:
    """A new user's interactive bash (Debian's /etc/skel/.bashrc) in a detached tmux."""

    def __init__(self, user: User):
        skel = Path("/etc/skel/.bashrc")
        rc = skel.read_text() if skel.exists() else ""
        # Debian's skeleton loads bash-completion; say so for skeletons that do not.
        rc += "\ntype -t _completion_loader >/dev/null || . /usr/share/bash-completion/bash_completion\nPS1='ready$ '\n"
        (user.home / ".bashrc").write_text(rc)
        self.socket = f"sandpit-install-{os.getpid()}-{next(_sockets)}"
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in user.env({"TERM": "xterm-256color"}).items())
        command = f"cd {shlex.quote(str(user.cwd))} && env -i {env} bash -i"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "30", "-s", "sh", command)
        self.wait_for(r"^ready\$\s*$")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)

    def keys(self, *keys, literal=False):
        self.tmux("send-keys", "-t", "sh", *(["-l"] if literal else []), "--", *keys)

    def wait_for(self, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            screen = self.tmux("capture-pane", "-p", "-J", "-t", "sh").stdout
            if re.search(pattern, screen, re.MULTILINE):
                return
            if time.monotonic() > deadline:
                pytest.fail(f"waited {timeout}s for {pattern!r}; the screen:\n{screen}")
            time.sleep(0.1)

    def close(self):
        path = self.tmux("display-message", "-p", "#{socket_path}").stdout.strip()
        self.tmux("kill-server")
        if path:
            Path(path).unlink(missing_ok=True)


def test_tab_completes_through_bash_completions_loader(package):
    skip_unless(shutil.which("tmux"), "tmux is not installed (scripts/setup --test)")
    skip_unless(Path("/usr/share/bash-completion/bash_completion").is_file(),
                "bash-completion is not installed (apt-get install bash-completion)")
    shell = InteractiveBash(package.user)
    try:
        # Not loaded at start: what TAB finds below, the dynamic loader found.
        shell.keys("complete -p sandpit >/dev/null 2>&1 || echo not-$((1 + 1))-loaded", literal=True)
        shell.keys("Enter")
        shell.wait_for(r"^not-2-loaded$")
        shell.keys("sandpit ex", literal=True)
        shell.keys("Tab")
        shell.wait_for(r"^ready\$ sandpit exec\s*$")
        shell.keys("--fr", literal=True)
        shell.keys("Tab")
        shell.wait_for(r"^ready\$ sandpit exec --fresh\s*$")
        shell.keys("C-c")
        shell.keys("complete -p sandpit", literal=True)
        shell.keys("Enter")
        shell.wait_for(r"^complete -F _sandpit sandpit$")
    finally:
        shell.close()


def test_purge_leaves_nothing_but_the_users_state(package):
    """Last in this file: removes the package the tests above used."""
    user = package.user
    user.run("sandpit", "exec", "-c", "print('state')", timeout=90)
    directories = {f for f in package.files if Path(f).is_dir() and not Path(f).is_symlink()}
    package.purge()
    assert "sandpit" not in installed_packages()
    assert run(["dpkg-query", "-W", "sandpit"], env=APT_ENV, check=None).returncode != 0, "dpkg still knows sandpit"
    for path in map(Path, package.files):
        if not os.path.lexists(path):
            continue
        assert str(path) in directories, f"{path} is left after purging sandpit"
        owners = run(["dpkg-query", "-S", str(path)], env=APT_ENV, check=None).stdout
        assert owners.strip() or any(path.iterdir()), f"the empty folder {path} is left after purging sandpit"
    deadline = time.monotonic() + 10  # stopped daemons take a moment to exit
    while (leftovers := [pid for pid in os.listdir("/proc") if pid.isdigit() and _runs_usr_bin_sandpit(pid)]):
        assert time.monotonic() < deadline, f"processes still run /usr/bin/sandpit: {leftovers}"
        time.sleep(0.1)
    # The user's own state stays theirs: the audit log of the runs above.
    assert (user.home / ".local" / "state" / "sandpit" / "audit.jsonl").is_file()


def _runs_usr_bin_sandpit(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe").startswith("/usr/bin/sandpit")
    except OSError:
        return False
