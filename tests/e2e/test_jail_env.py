"""The environment inside the sandbox is exactly the documented set
(src/session/environment.cpp); nothing of the caller's environment (secrets
included) reaches any process inside, nor its /proc/PID/environ."""
import json
import re
import uuid

import pytest

from conftest import SOURCE_DIR

# Variables bash itself adds to what it exports.
BASH_ADDS = {"PWD", "SHLVL", "_", "OLDPWD"}


def documented_environment():
    text = (SOURCE_DIR / "src" / "session" / "environment.cpp").read_text()
    entries = re.findall(r'"([A-Z_][A-Z0-9_]*)=([^"]*)"', text)
    assert len(entries) >= 5, "could not parse sandbox_environment()"
    return dict(entries)


@pytest.fixture
def canaries():
    """Secrets set in the environment of the `sandpit` command itself."""
    token = uuid.uuid4().hex
    return {
        "SANDPIT_CANARY_SECRET": f"xyz-canary-{token}",
        "AWS_SECRET_ACCESS_KEY": f"aws-canary-{token}",
        "GITHUB_TOKEN": f"ghp-canary-{token}",
        "LD_PRELOAD": f"/nonexistent/canary-{token}.so",
        "PYTHONPATH": f"/nonexistent/canary-{token}",
        "NODE_OPTIONS": f"--title=canary-{token}",
        "BASH_ENV": f"/nonexistent/canary-{token}.sh",
    }


def python_environ(sp, env=None):
    proc = sp.exec("import json, os; print('ENV ' + json.dumps(dict(os.environ)))", check=0, env=env)
    return json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("ENV "))[4:])


def node_environ(sp, env=None):
    proc = sp.exec("console.log('ENV ' + JSON.stringify(process.env))", language="javascript", check=0, env=env)
    return json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("ENV "))[4:])


def bash_environ(sp, env=None):
    out = sp.shell("env -0", check=0, env=env).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if item)


def probe_environ(sp, env=None):
    """The environ of a plain static binary started by bash inside."""
    proc, _ = sp.probe("env", env=env)
    return dict(l[4:].split("=", 1) for l in proc.stdout.splitlines() if l.startswith("env "))


def assert_no_canary(environ, canaries):
    # By value: sandpit sets some of these names itself (PYTHONPATH names the workspace's packages).
    leaked = {k: v for k, v in environ.items() if any(c in v for c in canaries.values())}
    assert not leaked, f"caller environment leaked into the sandbox: {leaked}"


def test_python_environment_is_exactly_documented(sp):
    assert python_environ(sp) == documented_environment()


def test_node_environment_is_exactly_documented(sp):
    assert node_environ(sp) == documented_environment()


def test_bash_environment_is_documented_plus_bash_own(sp):
    environ = bash_environ(sp)
    assert set(environ) - BASH_ADDS == set(documented_environment())
    assert {k: environ[k] for k in documented_environment()} == documented_environment()


def test_probe_environment_is_documented_plus_bash_own(sp):
    environ = probe_environ(sp)
    assert {k: v for k, v in environ.items() if k not in BASH_ADDS} == documented_environment()


@pytest.mark.parametrize("reader", [python_environ, node_environ, bash_environ, probe_environ],
                         ids=["python", "node", "bash", "probe"])
def test_caller_secrets_do_not_reach_the_sandbox(sp, canaries, reader):
    assert_no_canary(reader(sp, env=canaries), canaries)


def test_caller_secrets_absent_from_every_proc_environ(sp, canaries):
    """Reads /proc/*/environ and cmdline of every visible process, from inside."""
    code = (
        "import glob, json\n"
        "seen = {}\n"
        "for path in glob.glob('/proc/[0-9]*/environ') + glob.glob('/proc/[0-9]*/task/*/environ') "
        "+ glob.glob('/proc/[0-9]*/cmdline'):\n"
        "    try: seen[path] = open(path, 'rb').read().decode('utf-8', 'replace')\n"
        "    except OSError as e: seen[path] = 'ERR %d' % e.errno\n"
        "print('PROC ' + json.dumps(seen))\n"
    )
    proc = sp.exec(code, check=0, env=canaries)
    seen = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("PROC "))[5:])
    environs = [p for p in seen if p.endswith("/environ") and not seen[p].startswith("ERR")]
    assert len(environs) >= 2, f"too few readable environs to prove anything: {seen}"
    for path, content in seen.items():
        for name, value in canaries.items():
            assert value not in content, f"{name} visible in {path}"
        if path.endswith("/environ"):
            assert "SANDPIT_CONFIG" not in content and "XDG_STATE_HOME" not in content, path


def test_caller_locale_and_home_do_not_override_the_sandbox(sp):
    environ = python_environ(sp, env={"HOME": "/root", "PATH": "/usr/bin:/evil/bin", "LANG": "de_DE.UTF-8",
                                      "TMPDIR": "/host-tmp"})
    assert environ == documented_environment()


def test_init_process_environment_is_unreadable_or_empty(sp):
    out = sp.shell("cat /proc/1/environ 2>/dev/null | wc -c", check=0, env={"SANDPIT_CANARY_SECRET": "xyz"}).stdout
    assert out.strip() == "0"
