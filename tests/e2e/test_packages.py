"""Installing packages before code runs: pip from a PEP 503 index and npm from a registry stub, both made by
the tests and served on the host's loopback; allow and deny lists, reuse, failures that leave the workspace
as it was, and every front end that asks (exec -p, install, the REPL's .install, MCP's packages)."""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import DENIED, POLICY, SANDPIT, SUCCESS
from test_unprivileged import make_user_env, remove_user_env
from pkgindex import Served, build_sdist, build_wheel, npm_package, write_simple_index


@pytest.fixture
def index(tmp_path):
    root = tmp_path / "pypi"
    root.mkdir()
    build_wheel(root, "tinypkg", "1.0.0", "X = 1\n")
    build_wheel(root, "tinypkg", "2.0.0", "X = 2\n")
    build_wheel(root, "depone", "1.0.0")
    build_wheel(root, "depone", "2.0.0")
    build_wheel(root, "wantsone", "1.0.0", requires=["depone==1.0.0"])
    build_wheel(root, "wantstwo", "1.0.0", requires=["depone==2.0.0"])
    build_wheel(root, "withdep", "1.0.0", "import depone\nDEP = depone.VERSION\n", requires=["depone"])
    build_sdist(root, "onlysource", "1.0.0")
    write_simple_index(root)
    served = Served(root)
    yield served
    served.close()


@pytest.fixture
def pip_sp(sp, index):
    sp.configure(f'[packages]\npython_index = "http://{index.host}/"\n')
    return sp


def installed_names(sp):
    proc = sp.exec("import os; print(sorted(os.listdir('/workspace/.sandpit/python')) if os.path.isdir('/workspace/.sandpit/python') else [])", check=0)
    return proc.stdout.strip()


def test_install_then_import_then_reuse(pip_sp, index):
    proc, result = pip_sp.exec_json("import tinypkg; tinypkg.X", "-p", "tinypkg==1.0.0")
    assert result["success"], result
    assert result["result"]["text/plain"] == "1"
    assert result["packages_installed"] == [{"name": "tinypkg", "version": "1.0.0", "cached": False}]
    assert "Successfully installed tinypkg-1.0.0" in result["stderr"]
    fetched = len(index.requests)
    # The second time nothing is fetched: the package is there.
    proc, again = pip_sp.exec_json("tinypkg.X", "-p", "tinypkg==1.0.0")
    assert again["packages_installed"] == [{"name": "tinypkg", "version": "1.0.0", "cached": True}]
    assert len(index.requests) == fetched
    # Installed packages are files of the workspace: a new session (another daemon) imports them too.
    pip_sp.stop()
    assert pip_sp.exec("import tinypkg; print(tinypkg.X)", check=SUCCESS).stdout == "1\n"
    record = [r for r in pip_sp.audit_records() if r.get("packages_installed")][0]
    assert record["packages"] == ["tinypkg==1.0.0"]
    assert record["packages_installed"][0]["version"] == "1.0.0"


def test_a_pinned_version_replaces_another(pip_sp):
    pip_sp.exec("pass", "-p", "tinypkg==1.0.0", check=SUCCESS)
    proc, result = pip_sp.exec_json("import importlib.metadata as m; m.version('tinypkg')", "-p", "tinypkg==2.0.0")
    assert result["result"]["text/plain"] == "'2.0.0'", result
    assert result["packages_installed"] == [{"name": "tinypkg", "version": "2.0.0", "cached": False}]
    # pip --target keeps the old version's dist-info; sandpit removes it, so that metadata tells the truth.
    assert installed_names(pip_sp) == "['tinypkg', 'tinypkg-2.0.0.dist-info']"


def test_dependencies_come_along(pip_sp):
    proc = pip_sp.exec("import withdep; print(withdep.DEP)", "-p", "withdep", check=SUCCESS)
    assert proc.stdout == "2.0.0\n"


def test_allow_and_deny_refuse_before_anything_runs(pip_sp, index):
    pip_sp.configure(f'[packages]\npython_index = "http://{index.host}/"\nallow = ["numpy", "tiny*"]\ndeny = ["tinypkg"]\n')
    proc = pip_sp.exec("open('/workspace/ran', 'w').write('x')", "-p", "depone", check=POLICY)
    assert "refused by policy: package 'depone' is not in packages.allow (numpy, tiny*)" in proc.stderr
    proc = pip_sp.exec("pass", "-p", "tinypkg", check=POLICY)
    assert "matches packages.deny" in proc.stderr
    assert index.requests == [], "nothing was fetched"
    assert pip_sp.exec("import os; print(os.path.exists('/workspace/ran'))", check=SUCCESS).stdout == "False\n"
    blocked = [r for r in pip_sp.audit_records() if r.get("blocked")]
    assert len(blocked) == 2 and "packages.deny" in blocked[1]["blocked"]
    pip_sp.configure(f'[packages]\npython_index = "http://{index.host}/"\nallow = []\n')
    assert "packages.allow is empty" in pip_sp.exec("pass", "-p", "tinypkg", check=POLICY).stderr


def test_bad_names_are_usage_errors(pip_sp):
    for bad in ("--index-url=http://evil/", "../x", "git+https://x/y.git", "pkg @ file:///etc", "x;rm"):
        proc = pip_sp.exec("pass", "-p", bad)
        assert proc.returncode == 2, (bad, proc.stderr)
        assert proc.stderr.startswith("sandpit: package ")


@pytest.mark.parametrize("asked,expect", [
    ("nosuchpkg", "No matching distribution found for nosuchpkg"),
    ("onlysource", "No matching distribution found for onlysource"),  # wheels only: no build runs
    ("wantsone,wantstwo", "ResolutionImpossible"),
])
def test_a_failed_install_fails_the_run_and_leaves_the_workspace_as_it_was(pip_sp, asked, expect):
    pip_sp.exec("pass", "-p", "tinypkg==1.0.0", check=SUCCESS)
    before = installed_names(pip_sp)
    proc = pip_sp.exec("open('/workspace/ran', 'w').write('x')", "-p", asked)
    assert proc.returncode == 1, proc.stderr
    assert expect in proc.stderr
    assert "sandpit: install failed: pip exited with status 1" in proc.stderr
    assert installed_names(pip_sp) == before
    assert pip_sp.exec("import os; print(os.path.exists('/workspace/ran'))", check=SUCCESS).stdout == "False\n", "the code did not run"


def test_a_broken_index_fails_with_pips_message(sp):
    sp.configure('[packages]\npython_index = "http://127.0.0.1:9/simple"\n')
    proc = sp.exec("pass", "-p", "tinypkg", timeout=120)
    assert proc.returncode == 1
    assert "install failed" in proc.stderr and "No matching distribution" in proc.stderr


def test_the_installer_reaches_only_the_index(pip_sp, index, tmp_path):
    # A second server holds the same wheel: an index page that links to it there is refused by the proxy.
    other_root = tmp_path / "other"
    other_root.mkdir()
    build_wheel(other_root, "elsewhere", "1.0.0")
    other = Served(other_root)
    try:
        page = index.server.server_address
        (tmp_path / "pypi" / "elsewhere").mkdir()
        (tmp_path / "pypi" / "elsewhere" / "index.html").write_text(
            f'<a href="http://{other.host}/elsewhere/elsewhere-1.0.0-py3-none-any.whl">elsewhere-1.0.0-py3-none-any.whl</a>\n')
        proc = pip_sp.exec("pass", "-p", "elsewhere", timeout=120)
        assert proc.returncode == 1
        assert "403" in proc.stderr
        assert other.requests == []
        refused = [r for r in pip_sp.audit_records() if r["command"] == "network" and r.get("blocked")]
        assert refused and refused[-1]["channel"] == "install" and refused[-1]["port"] == other.port
        assert page
    finally:
        other.close()


def test_install_command_fresh_runs_and_the_repl(pip_sp):
    proc = pip_sp.run("install", "-w", str(pip_sp.workspace), "--json", "tinypkg==2.0.0", check=SUCCESS)
    assert json.loads(proc.stdout)["packages_installed"][0]["version"] == "2.0.0"
    assert pip_sp.exec("import tinypkg; print(tinypkg.X)", "--fresh", check=SUCCESS).stdout == "2\n"
    proc = pip_sp.exec("import depone; print(depone.VERSION)", "--fresh", "-p", "depone==1.0.0", check=SUCCESS)
    assert proc.stdout == "1.0.0\n"
    proc = pip_sp.run("-w", str(pip_sp.workspace), input=".install depone==2.0.0\nimport importlib.metadata as m\nprint(m.version('depone'))\n", check=SUCCESS)
    assert "2.0.0" in proc.stdout, proc.stderr


def test_mcp_run_code_installs_its_packages(pip_sp):
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
         "params": {"name": "run_code", "arguments": {"code": "import tinypkg; tinypkg.X", "packages": ["tinypkg==1.0.0"]}}},
    ]
    proc = subprocess.run([SANDPIT, "mcp"], input="".join(json.dumps(l) + "\n" for l in lines), capture_output=True, text=True,
                          env=pip_sp.env(), timeout=120)
    answer = json.loads(proc.stdout.splitlines()[0])
    text = answer["result"]["content"][0]["text"]
    assert "[packages] tinypkg 1.0.0" in text and "[result]\n1" in text, text
    bad = subprocess.run([SANDPIT, "mcp"], input=json.dumps({**lines[0], "params": {"name": "run_code", "arguments": {"code": "1", "packages": "tinypkg"}}}) + "\n",
                         capture_output=True, text=True, env=pip_sp.env(), timeout=60)
    assert json.loads(bad.stdout.splitlines()[0])["result"]["isError"]


@pytest.fixture
def registry(tmp_path):
    root = tmp_path / "npm"
    root.mkdir()
    served = Served(root, npm=True)
    npm_package(root, served.host, "leftpadx", "1.0.0", "module.exports = (s, n) => s.padStart(n, '*');\n")
    npm_package(root, served.host, "leftpadx", "1.1.0", "module.exports = (s, n) => s.padStart(n, '+');\n")
    npm_package(root, served.host, "noisy", "1.0.0", "module.exports = 1;\n",
                scripts={"install": "touch /workspace/install-script-ran", "postinstall": "touch /workspace/install-script-ran"})
    yield served
    served.close()


def test_npm_installs_from_the_registry_without_running_scripts(sp, registry):
    sp.configure(f'[packages]\nnpm_registry = "http://{registry.host}/"\n')
    proc, result = sp.exec_json("require('leftpadx')('ab', 4)", "-p", "leftpadx@1.0.0", language="javascript", timeout=120)
    assert result["success"], result["stderr"]
    assert result["result"]["text/plain"] == "'**ab'"
    assert result["packages_installed"] == [{"name": "leftpadx", "version": "1.0.0", "cached": False}]
    proc, again = sp.exec_json("1", "-p", "leftpadx@1.0.0", language="javascript")
    assert again["packages_installed"][0]["cached"] is True
    sp.exec("1", "-p", "noisy", language="javascript", check=SUCCESS, timeout=120)
    assert sp.exec("import os; print(os.path.exists('/workspace/install-script-ran'))", check=SUCCESS).stdout == "False\n"
    assert sp.exec("require('noisy')", language="typescript", check=SUCCESS).stdout == "1\n"
    proc = sp.exec("1", "-p", "nosuchnpmpkg", language="javascript", timeout=120)
    assert proc.returncode == 1 and "npm exited with status" in proc.stderr


def test_bash_has_no_installer(pip_sp):
    proc = pip_sp.exec("true", "-p", "tinypkg", language="bash")
    assert proc.returncode == 2 and "bash has no package installer" in proc.stderr


def test_packages_install_as_an_unprivileged_user(index):
    root, run = make_user_env(0o600)
    try:
        config = f'[packages]\npython_index = "http://{index.host}/"\n'
        proc = run("exec", "-p", "tinypkg==2.0.0", "-c", "import tinypkg; print(tinypkg.X)", config=config, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "2\n"
        assert "Successfully installed tinypkg-2.0.0" in proc.stderr
        # The packages are the user's files, in the workspace.
        owned = list((root / "home").rglob("tinypkg-2.0.0.dist-info")) + list((root / "ws").rglob("tinypkg-2.0.0.dist-info"))
        assert owned and all(p.stat().st_uid == 65534 for p in owned), owned
    finally:
        remove_user_env(root, run)


def test_a_terminal_install_shows_a_spinner_while_it_waits(sp, tmp_path):
    import re
    import shutil
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/setup --test)")
    from test_repl import Terminal
    root = tmp_path / "slow"
    root.mkdir()
    build_wheel(root, "tinypkg", "1.0.0", "X = 1\n")
    write_simple_index(root)
    slow = Served(root, delay=1.5)
    sp.configure(f'[packages]\npython_index = "http://{slow.host}/"\n')
    t = Terminal(sp)
    try:
        t.type(".install tinypkg==1.0.0")
        t.wait_for(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] [1-9]\.\ds$")
        t.wait_for(r"Successfully installed tinypkg-1.0.0")
        t.type("import tinypkg; tinypkg.X")
        t.wait_for(r"Out\[\d+\]: 1")
        assert not re.search(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] ", t.screen(), re.MULTILINE)
    finally:
        t.close()
        slow.close()


def test_offline_from_a_wheel_folder(sp):
    # python_find_links: no index at all, the folder bound read-only into the sandbox (here under /tmp,
    # which the sandbox's own /tmp covers: the bind goes on top of it). It must be reachable by the
    # sandbox's user (nobody, as root): not under pytest's private tmp_path.
    wheels = Path(tempfile.mkdtemp(prefix="sandpit-wheels-"))
    try:
        wheels.chmod(0o755)
        wheel = build_wheel(wheels, "tinypkg", "1.0.0", "X = 1\n")  # in wheels/tinypkg/, as an index has it
        sp.configure(f'[packages]\npython_find_links = ["{wheel.parent}"]\n')
        proc, result = sp.exec_json("import tinypkg; tinypkg.X", "-p", "tinypkg")
        assert result["success"], result["stderr"]
        assert result["packages_installed"] == [{"name": "tinypkg", "version": "1.0.0", "cached": False}]
        proc = sp.exec(f"open('{wheel.parent}/planted', 'w')")
        assert proc.returncode == 1 and "Read-only file system" in proc.stderr
        assert not (wheel.parent / "planted").exists()
    finally:
        shutil.rmtree(wheels, ignore_errors=True)
