"""Workspace sessions: one daemon per workspace keeps interpreters alive between calls."""
import json
import re
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import CODE_FAILED, SANDPIT, SUCCESS, TIMED_OUT, USAGE, host_processes_matching


def daemon_pids(sp):
    """Host pids of this test's workspace daemon."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if len(argv) > 2 and argv[1] == b"__session-daemon" and argv[2].decode(errors="replace") == str(sp.workspace):
            pids.append(int(entry.name))
    if sp.pooled:
        # A daemon that was a pool sandbox keeps the argv it was made with (__pool-slot <slot>): ask it.
        info = sp.run("session", "info", "--json")
        if info.returncode == 0 and json.loads(info.stdout).get("pooled"):
            pids.append(json.loads(info.stdout)["pid"])
    return pids


def test_python_state_persists_between_calls(sp):
    sp.exec("x = 41\nimport math", check=SUCCESS)
    assert sp.exec("x + 1", check=SUCCESS).stdout == "42\n"
    assert sp.exec("math.sqrt(16)", check=SUCCESS).stdout == "4.0\n"


def test_javascript_state_persists_between_calls(sp):
    sp.exec("let a = 2; const b = 3; globalThis.c = 4; function f(x) { return x * 10 }", language="js", check=SUCCESS)
    assert sp.exec("a * b * c + f(1)", language="js", check=SUCCESS).stdout == "34\n"


def test_a_traceback_through_an_earlier_cell_shows_that_cells_lines(sp):
    sp.exec("def g():\n    x = 1\n    return 1 / 0", check=SUCCESS)
    proc, result = sp.exec_json("y = 2\nz = 3\ng()", check=CODE_FAILED)
    tb = result["error"]["traceback"]
    assert re.search(r'File "<cell \d+>", line 3, in <module>\n    g\(\)', tb), tb
    assert re.search(r'File "<cell \d+>", line 3, in g\n    return 1 / 0', tb), tb
    assert "z = 3" not in tb


def test_languages_share_the_workspace_and_execution_count_grows(sp):
    sp.exec("open('/workspace/from-py.txt', 'w').write('py')", check=SUCCESS)
    assert sp.exec("require('fs').readFileSync('/workspace/from-py.txt', 'utf8')", language="js", check=SUCCESS).stdout == "'py'\n"
    assert sp.shell("cat /workspace/from-py.txt", check=SUCCESS).stdout == "py"
    _, result = sp.exec_json("1", check=SUCCESS)
    assert result["execution_count"] == 4 and result["session"].startswith("ws-")


def test_one_daemon_per_workspace_and_stop_leaves_nothing(sp):
    sp.exec("1", check=SUCCESS)
    sp.exec("2", check=SUCCESS)
    pids = daemon_pids(sp)
    assert len(pids) == 1
    sp.run("session", "stop", "-w", str(sp.workspace), check=SUCCESS)
    time.sleep(0.1)
    assert daemon_pids(sp) == []
    assert not list((sp.state / "sandpit" / "workspaces").rglob("socket"))  # (a pool's ready sandboxes have theirs)


def test_racing_first_clients_start_exactly_one_daemon(sp):
    procs = [subprocess.Popen([SANDPIT, "exec", "-w", str(sp.workspace), "-c", "import os; os.getpid()"],
                              stdout=subprocess.PIPE, text=True, env=sp.env()) for _ in range(8)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len(daemon_pids(sp)) == 1
    assert len(set(outs)) == 1, "all clients must have reached the same kernel"


def test_stale_socket_is_replaced(sp):
    sp.exec("1", check=SUCCESS)
    pid = daemon_pids(sp)[0]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert list(sp.state.rglob("socket")), "the killed daemon's socket is left behind"
    assert sp.exec("'back'", check=SUCCESS).stdout == "'back'\n"
    assert len(daemon_pids(sp)) == 1


def test_idle_daemon_exits_and_next_call_starts_a_new_one(sp):
    sp.configure('[session]\nidle_timeout = "1s"\n')
    sp.exec("x = 1", check=SUCCESS)
    assert len(daemon_pids(sp)) == 1
    time.sleep(2.5)
    assert daemon_pids(sp) == []
    proc = sp.exec("'x' in dir()", check=SUCCESS)
    assert proc.stdout == "False\n"


def test_idle_daemon_uses_no_cpu(sp):
    sp.exec("1", check=SUCCESS)
    pid = daemon_pids(sp)[0]
    def cpu_ticks():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    before = cpu_ticks()
    time.sleep(2)
    assert cpu_ticks() - before <= 1, "the idle daemon must not poll"


def test_interrupt_keeps_state(sp):
    sp.exec("kept = 'yes'", check=SUCCESS)
    proc = subprocess.Popen([SANDPIT, "exec", "-w", str(sp.workspace), "-c", "import time\nprint('go', flush=True)\ntime.sleep(60)"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=sp.env())
    assert proc.stdout.readline() == "go\n"
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert time.monotonic() - start < 5
    assert proc.returncode == CODE_FAILED and "KeyboardInterrupt" in err
    assert sp.exec("kept", check=SUCCESS).stdout == "'yes'\n"


def test_timeout_interrupts_the_cell_and_keeps_the_kernel(sp):
    sp.exec("kept = 1", check=SUCCESS)
    _, result = sp.exec_json("while True: pass", "--timeout", "1s", check=TIMED_OUT)
    assert result["timed_out"] is True
    assert sp.exec("kept + 1", check=SUCCESS).stdout == "2\n"


def test_javascript_interrupt_keeps_state(sp):
    sp.exec("let kept = 'js'", language="js", check=SUCCESS)
    sp.exec("while (true) {}", "--timeout", "1s", language="js", check=TIMED_OUT)
    sp.exec("await new Promise(r => setTimeout(r, 60000))", "--timeout", "1s", language="js", check=TIMED_OUT)
    assert sp.exec("kept", language="js", check=SUCCESS).stdout == "'js'\n"


def test_kernel_crash_is_reported_and_the_next_call_gets_a_fresh_kernel(sp):
    sp.exec("lost = 1", check=SUCCESS)
    _, result = sp.exec_json("import os; os._exit(3)", check=CODE_FAILED)
    assert result["error"]["name"] == "KernelDied" and result["exit_code"] == 3
    proc = sp.exec("'lost' in dir()", check=SUCCESS)
    assert proc.stdout == "False\n"
    assert "earlier state is lost" in proc.stderr


def test_segfault_is_reported(sp):
    _, result = sp.exec_json("import ctypes; ctypes.string_at(0)", check=CODE_FAILED)
    assert result["error"]["name"] == "Killed" and "SIGSEGV" in result["error"]["value"]
    sp.exec("1", check=SUCCESS)


def test_concurrent_clients_are_all_answered_in_order(sp):
    sp.exec("order = []", check=SUCCESS)
    results = {}

    def client(i):
        proc = sp.exec(f"order.append({i}); import time; time.sleep(0.02); {i} * 2")
        results[i] = (proc.returncode, proc.stdout)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(results[i] == (0, f"{i * 2}\n") for i in range(20)), results
    order = json.loads(sp.exec("import json; print(json.dumps(order))", check=SUCCESS).stdout)
    assert sorted(order) == list(range(20)) and len(order) == 20


def test_no_wait_gives_busy(sp):
    sp.exec("1", check=SUCCESS)
    slow = subprocess.Popen([SANDPIT, "exec", "-w", str(sp.workspace), "-c", "import time\nprint('go', flush=True)\ntime.sleep(3)"],
                            stdout=subprocess.PIPE, text=True, env=sp.env())
    assert slow.stdout.readline() == "go\n"
    proc = sp.exec("1", "--no-wait")
    assert proc.returncode == CODE_FAILED
    assert proc.stderr.startswith("sandpit: busy: another execution is running")
    assert slow.wait(timeout=30) == 0


def test_session_commands(sp):
    sp.exec("x = 1", check=SUCCESS)
    sp.exec("1", language="js", check=SUCCESS)
    info = json.loads(sp.run("session", "info", "-w", str(sp.workspace), "--json", check=SUCCESS).stdout)
    assert info["workspace"] == str(sp.workspace)
    assert sorted(k["language"] for k in info["kernels"]) == ["javascript", "python"]
    listed = json.loads(sp.run("session", "list", "--json", check=SUCCESS).stdout)
    assert [s["workspace"] for s in listed] == [str(sp.workspace)]
    sp.run("session", "restart", "-w", str(sp.workspace), check=SUCCESS)
    assert sp.exec("'x' in dir()", check=SUCCESS).stdout == "False\n"
    sp.exec("open('/workspace/f', 'w').write('1')", check=SUCCESS)
    sp.run("session", "reset", "-w", str(sp.workspace), check=SUCCESS)
    assert sp.shell("ls -A /workspace", check=SUCCESS).stdout == ""
    assert sp.run("session", "bogus").returncode == USAGE


def test_protocol_version_mismatch_is_refused_with_a_hint(sp):
    sp.exec("1", check=SUCCESS)
    sock_path = next(sp.state.rglob("socket"))
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock_path))
        s.sendall(b'{"type":"hello","protocol":99,"client":"future"}\n')
        reply = json.loads(s.makefile().readline())
    assert reply["type"] == "error" and reply["code"] == "version"
    assert "sandpit session stop" in reply["message"]


def test_malformed_requests_get_errors_and_the_daemon_lives(sp):
    sp.exec("1", check=SUCCESS)
    sock_path = next(sp.state.rglob("socket"))
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock_path))
        f = s.makefile("rw")
        for line in ('not json', '[]', '{"type":"execute"}', '{"type":"hello","protocol":1,"extra":1}'):
            f.write(line + "\n")
            f.flush()
            assert json.loads(f.readline())["code"] == "protocol"
    assert sp.exec("'alive'", check=SUCCESS).stdout == "'alive'\n"


def test_socket_is_private(sp):
    sp.exec("1", check=SUCCESS)
    sock_path = next(sp.state.rglob("socket"))
    assert (sock_path.stat().st_mode & 0o777) == 0o600


def test_fresh_runs_do_not_touch_the_session(sp):
    sp.exec("x = 1", check=SUCCESS)
    assert sp.exec("'x' in dir()", "--fresh", check=SUCCESS).stdout == "False\n"
    assert sp.exec("x", check=SUCCESS).stdout == "1\n"


def test_matplotlib_figures_come_back_as_png(sp):
    import base64
    code = ("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\n"
            "plt.figure()\nplt.bar([1, 2], [3, 4])\nprint('drawn')")
    _, result = sp.exec_json(code, check=SUCCESS)
    assert result["stdout"] == "drawn\n" and "Matplotlib" not in result["stderr"]
    assert len(result["images"]) == 2
    for image in result["images"]:
        data = base64.b64decode(image["base64"])
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width > 100 and height > 100
        assert image["format"] == "png" and Path(image["path"]).read_bytes() == data
        assert str(sp.state) in image["path"], "the path is where the user finds it on the host"
    human = sp.exec("plt.plot([0, 1])", check=SUCCESS).stdout
    assert "[image: " in human


def test_pandas_dataframe_has_html_and_a_text_table(sp):
    _, result = sp.exec_json("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})", check=SUCCESS)
    assert "<table" in result["result"]["text/html"]
    assert result["result"]["text/plain"].split() == ["a", "b", "0", "1", "x", "1", "2", "y"]


def test_events_stream_in_jupyter_terms(sp):
    proc = sp.exec("print('out')\n6 * 7", "--events", check=SUCCESS)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "status" and events[0]["execution_state"] == "busy"
    assert "stream" in types and types[-3:] == ["execute_result", "status", "result"]
    assert "".join(e["text"] for e in events if e["type"] == "stream") == "out\n"
    assert events[-1]["result"] == {"text/plain": "42"} and events[-1]["success"] is True
    proc = sp.exec("1/0", "--events", check=CODE_FAILED)
    error = [json.loads(line) for line in proc.stdout.splitlines() if '"error"' in line][0]
    assert error["ename"] == "ZeroDivisionError"


def test_javascript_top_level_await_keeps_its_declarations(sp):
    proc = sp.exec("const data = await Promise.resolve([1, 2, 3]);\ndata.length", language="js", check=SUCCESS)
    assert proc.stdout == "3\n"
    assert sp.exec("data.map(x => x * 2)", language="js", check=SUCCESS).stdout == "[ 2, 4, 6 ]\n"


def test_javascript_cells_can_run_again(sp):
    for value in (1, 2):
        code = f"const c = {value};\nlet l = {value};\nclass K {{ v() {{ return {value} }} }}\nc + l + new K().v()"
        assert sp.exec(code, language="js", check=SUCCESS).stdout == f"{3 * value}\n"


def test_javascript_require_resolves_workspace_node_modules(sp):
    sp.exec("1", check=SUCCESS)
    module = sp.files_dir() / "node_modules" / "shout"
    module.mkdir(parents=True)
    (module / "index.js").write_text("module.exports = (s) => s.toUpperCase() + '!'")
    assert sp.exec("require('shout')('hi')", language="js", check=SUCCESS).stdout == "'HI!'\n"


def test_shell_timeout_in_a_session_kills_its_background_jobs(sp):
    sp.shell("for i in 1 2; do ( while :; do :; done ) & done; sleep 4261 & wait", "--timeout", "1s", check=TIMED_OUT)
    processes = sp.shell("ps -e -o args=", check=SUCCESS).stdout.splitlines()
    assert [p for p in processes if "sleep 4261" in p] == [], "background jobs of a timed-out command must die with it"
    assert len(processes) <= 4, processes  # init, python-less: this bash and ps


def test_background_processes_live_until_the_session_ends(sp):
    sp.shell("(setsid sleep 4262 > /dev/null 2>&1 &); echo started", check=SUCCESS)
    assert "sleep 4262" in sp.shell("ps -e -o args=", check=SUCCESS).stdout
    sp.run("session", "stop", "-w", str(sp.workspace), check=SUCCESS)
    time.sleep(0.2)
    assert host_processes_matching("sleep 4262") == []


def test_background_kill_policy_ends_what_an_execution_leaves(sp):
    sp.configure('[session]\nbackground = "kill"\n')
    sp.exec("kept = 'state'", check=SUCCESS)
    code = ("import os, subprocess\nsubprocess.Popen(['setsid', 'sleep', '4263'], start_new_session=True)\n"
            "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '4264'])")
    sp.exec(code, check=SUCCESS)
    time.sleep(0.2)
    assert host_processes_matching("sleep 4263") == [] and host_processes_matching("sleep 4264") == []
    assert sp.exec("kept", check=SUCCESS).stdout == "'state'\n"


def test_background_policy_is_validated(sp):
    sp.configure('[session]\nbackground = "sometimes"\n')
    proc = sp.exec("1")
    assert proc.returncode == USAGE
    assert 'session.background: expected "keep" or "kill", got "sometimes"' in proc.stderr


def test_a_kernel_flooding_its_control_socket_is_stopped_and_the_daemon_stays_small(sp):
    sp.exec("1", check=SUCCESS)
    _, result = sp.exec_json("import os\nwhile True: os.write(3, b'x' * (1 << 20))", "--timeout", "30s", check=CODE_FAILED)
    assert result["error"]["name"] == "KernelDied" and "protocol" in result["error"]["value"]
    pid = daemon_pids(sp)[0]
    rss_kib = int(next(l for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("VmRSS")).split()[1])
    assert rss_kib < 200 * 1024, f"daemon RSS {rss_kib} KiB"  # unbounded, it reached 5 GB
    assert sp.exec("'alive'", check=SUCCESS).stdout == "'alive'\n"


@pytest.mark.parametrize("fake", [
    "b'{\"type\":\"result\",\"exit_code\":\"x\",\"value\":7,\"images\":[1,{\"path\":3}],\"error\":\"no\"}\\n'",
    "b'{\"type\":\"result\",\"value\":{\"a\":' + b'[' * 100000 + b']' * 100000 + b'}}\\n'",
], ids=["wrong-types", "deep-nesting"])
def test_forged_driver_results_cannot_crash_the_daemon(sp, fake):
    sp.exec("1", check=SUCCESS)
    code = f"import os, time\nos.write(3, {fake})\ntime.sleep(1)\n"
    sp.run("exec", "-w", str(sp.workspace), "--timeout", "20s", "-", input=code)
    assert sp.exec("'alive'", check=SUCCESS).stdout == "'alive'\n"
    assert len(daemon_pids(sp)) == 1


def test_output_that_escapes_large_in_json_still_comes_back(sp):
    proc, result = sp.exec_json("import sys; sys.stdout.write('\\x01' * (3 << 20))", check=SUCCESS)
    assert len(result["stdout"]) == 3 << 20


def test_stop_answers_queued_executions_instead_of_running_them(sp):
    sp.exec("1", check=SUCCESS)
    first = subprocess.Popen([SANDPIT, "shell", "-w", str(sp.workspace), "--", "echo go; sleep 30"],
                             stdout=subprocess.PIPE, text=True, env=sp.env())
    assert first.stdout.readline() == "go\n"
    queued = subprocess.Popen([SANDPIT, "shell", "-w", str(sp.workspace), "--", "echo ran"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=sp.env())
    time.sleep(0.3)
    sp.run("session", "stop", "-w", str(sp.workspace), check=SUCCESS)
    assert daemon_pids(sp) == []
    out, err = queued.communicate(timeout=20)
    assert "ran" not in out and queued.returncode != 0
    first.wait(timeout=20)


def test_a_stopped_kernel_cannot_hold_the_session(sp):
    sp.exec("import os, signal, threading\nthreading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGSTOP)).start()", check=SUCCESS)
    time.sleep(0.6)
    big = "x = 1\n" * 700_000  # more than a socket buffer holds
    start = time.monotonic()
    sp.run("exec", "-w", str(sp.workspace), "--timeout", "1s", "-", input=big, check=TIMED_OUT)
    assert time.monotonic() - start < 15
    proc = sp.exec("print('after')", check=SUCCESS)
    assert proc.stdout == "after\n" and "earlier state is lost" in proc.stderr
