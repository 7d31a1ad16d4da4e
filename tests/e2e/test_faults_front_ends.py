"""Kill -9 of the front ends (`sandpit mcp`, `sandpit serve`) and of a serve sandbox's daemon in the
middle of a call: the session records what it can, what was lost shows as interrupted and is said
by the next call, and nothing is left once the sessions end."""
import base64
import json
import signal
import subprocess
import time

import pytest

from conftest import SANDPIT, SUCCESS
from crash import actions, assert_nothing_left, fault, lines, require_hooks, verify, wait_until
from test_serve import Served


@pytest.fixture(autouse=True)
def hooks():
    require_hooks()


def mcp(sp, calls, env=None, timeout=60):
    """One `sandpit mcp` process fed `calls` (tools/call params); returns (returncode, answers)."""
    text = "".join(json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": c}) + "\n" for i, c in enumerate(calls))
    proc = subprocess.run([SANDPIT, "mcp"], input=text, capture_output=True, text=True, env=sp.env(env), timeout=timeout, cwd=sp.workspace)
    return proc.returncode, [json.loads(l) for l in proc.stdout.splitlines() if l.strip()]


def text_of(answer):
    return "".join(c.get("text", "") for c in answer["result"]["content"])


def stop_all_sessions(sp):
    for session in json.loads(sp.run("session", "list", "--json", check=SUCCESS).stdout or "[]"):
        sp.run("session", "stop", "-w", session["workspace"])


def test_mcp_killed_mid_run_code_the_daemon_records_the_run_and_the_session_lives(sp):
    rc, answers = mcp(sp, [{"name": "run_code", "arguments": {"code": "x = 7", "session": "s"}}])
    assert rc == 0 and not answers[0]["result"].get("isError")
    rc, _ = mcp(sp, [{"name": "run_code", "arguments": {"code": "print('go', flush=True)\nimport time; time.sleep(30)", "session": "s"}}],
                env=fault("mcp:output"))
    assert rc == -signal.SIGKILL
    assert wait_until(lambda: [a for a in actions(sp) if a["command"] == "mcp"][-1].get("intent") is not None)
    last = [a for a in actions(sp) if a["command"] == "mcp"][-1]
    assert last["success"] is False and "interrupted" not in last, "the daemon outlived its client and recorded the outcome"
    rc, answers = mcp(sp, [{"name": "run_code", "arguments": {"code": "print(x)", "session": "s"}}])
    assert "7" in text_of(answers[0])
    assert verify(sp).returncode == SUCCESS
    stop_all_sessions(sp)
    assert_nothing_left(sp)


def test_mcp_killed_mid_upload_the_next_call_says_what_was_lost(sp):
    blob = base64.b64encode(b"z" * 600_000).decode()
    rc, _ = mcp(sp, [{"name": "upload_file", "arguments": {"path": "blob.bin", "content_base64": blob, "session": "s"}}],
                env=fault("mcp:copy@3"))
    assert rc == -signal.SIGKILL
    intent = lines(sp)[-1]
    assert intent["phase"] == "intent" and intent["owner"]["role"] == "mcp"
    rc, answers = mcp(sp, [{"name": "run_code", "arguments": {"code": "import os; print(sorted(os.listdir('.')))", "session": "s"}}])
    text = text_of(answers[0])
    assert f"did not finish: sandpit mcp (pid {intent['owner']['pid']}) died during it" in text, text
    assert "[]" in text, "no half-written file, and no temporary one"
    assert verify(sp).returncode == SUCCESS
    stop_all_sessions(sp)
    assert_nothing_left(sp, killed=[intent["owner"]["pid"]])


@pytest.fixture
def short_idle(sp):
    sp.configure('[session]\nidle_timeout = "1s"\n')
    sp.system('[identity]\nadmins = ["root"]\n')  # serve's records name its callers: reading them takes an admin
    return sp


def served_with(sp, env):
    """`sandpit serve` with SANDPIT_FAULT set (Served takes its environment from sp.env())."""
    original = sp.env
    sp.env = lambda extra=None: original({**env, **(extra or {})})
    try:
        return Served(sp)
    finally:
        sp.env = original


def interpreter(sandbox):
    return {"E2b-Sandbox-Id": sandbox["sandboxID"], "E2b-Sandbox-Port": "49999", "E2B-Traffic-Access-Token": sandbox["trafficAccessToken"]}


def test_serve_killed_mid_execute_leaves_a_record_and_no_process(short_idle):
    sp = short_idle
    s = served_with(sp, fault("serve:started"))
    sandbox = s.create()
    try:
        s.request("POST", "/execute", {"code": "import time; time.sleep(30)"}, headers=interpreter(sandbox), key=False)
    except Exception:
        pass  # the server died under the request
    assert wait_until(lambda: s.proc.poll() is not None) and s.proc.returncode == -signal.SIGKILL
    # Its sandbox's daemon lost both connections: it stops the cell, records it, then idles out.
    assert wait_until(lambda: any(a["command"] == "serve" and a.get("intent") for a in actions(sp, "--all")), 15)
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp)


def test_serve_killed_mid_upload_its_next_start_records_and_clears_the_sandbox(short_idle):
    sp = short_idle
    s = served_with(sp, fault("serve:copy@3"))
    sandbox = s.create()
    try:
        s.envd(sandbox, "POST", "/files?path=big.bin", b"q" * 600_000, headers={"Content-Type": "application/octet-stream"})
    except Exception:
        pass
    assert wait_until(lambda: s.proc.poll() is not None) and s.proc.returncode == -signal.SIGKILL
    intent = lines(sp)[-1]
    assert intent["phase"] == "intent" and intent["owner"]["role"] == "serve" and intent["operation"] == "upload"
    assert actions(sp, "--all")[-1]["interrupted"].endswith(f"sandpit serve (pid {intent['owner']['pid']}) is gone")
    again = Served(sp)
    err = again.stop()
    assert f"did not finish: sandpit serve (pid {intent['owner']['pid']}) died during it" in err, err
    assert list((sp.state / "sandpit" / "serve" / "sandboxes").iterdir()) == [], "the dead server's sandbox is cleared"
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp, killed=[intent["owner"]["pid"]])


def test_a_sandbox_daemon_killed_mid_command_the_command_shows_interrupted(short_idle):
    sp = short_idle
    s = served_with(sp, fault("daemon:command"))
    try:
        sandbox = s.create()
        s.envd(sandbox, "POST", "/process.Process/Start", {"process": {"cmd": "/bin/bash", "args": ["-l", "-c", "sleep 30"]}},
               headers={"Content-Type": "application/json", "Connect-Protocol-Version": "1"})
        assert wait_until(lambda: any("interrupted" in a for a in actions(sp, "--all")), 15), actions(sp, "--all")
        lost = [a for a in actions(sp, "--all") if "interrupted" in a][-1]
        assert lost["command"] == "serve" and lost["process"] is True and "the session daemon" in lost["interrupted"]
    finally:
        s.stop()
    assert verify(sp).returncode == SUCCESS
    assert_nothing_left(sp)
