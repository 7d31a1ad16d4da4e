"""The audit log as the oracle: one record per action, the hash chain, `audit` and `stats`, and who may read what."""
import json
import os
import subprocess
import threading

from conftest import SANDPIT, SUCCESS, CODE_FAILED, DENIED, TIMED_OUT, USAGE


def test_every_execution_leaves_one_chained_record(sp):
    sp.exec("x = 41", check=SUCCESS)
    sp.exec("print(x + 1)", check=SUCCESS)
    sp.exec("1/0", check=CODE_FAILED)
    sp.exec("while True: pass", "--timeout", "1s", check=TIMED_OUT)
    sp.shell("echo hi", "--fresh", check=SUCCESS)
    records = sp.audit_records()
    assert len(records) == 5
    assert list(records[0]) == ["ts", "user", "workspace", "session", "command", "language", "code_sha256", "code_bytes",
                                "success", "exit_code", "timed_out", "duration_ms", "error", "blocked", "denied", "intent", "prev",
                                "hash"]
    assert [r["success"] for r in records] == [True, True, False, False, True]
    assert records[2]["error"] == "ZeroDivisionError: division by zero"
    assert records[3]["timed_out"] is True and 900 <= records[3]["duration_ms"] < 5000
    assert records[4]["command"] == "shell" and records[4]["language"] == "bash"
    assert records[0]["workspace"] == str(sp.workspace) and records[0]["code_bytes"] == 6
    import hashlib
    assert records[0]["code_sha256"] == hashlib.sha256(b"x = 41").hexdigest()
    # Each run is two links of the chain: its intent, then its outcome naming the intent.
    lines = sp.audit_lines()
    assert [l.get("phase") for l in lines] == ["intent", None] * 5
    assert all(outcome["intent"] == intent["hash"] for intent, outcome in zip(lines[::2], lines[1::2]))
    assert lines[0]["prev"] == "0" * 64
    assert all(b["prev"] == a["hash"] for a, b in zip(lines, lines[1:]))
    assert sp.run("audit", "verify", check=SUCCESS).stdout == f"{sp.audit_path()}: 10 records, chain intact\n"


def test_audit_line_format_and_filters(sp):
    sp.exec("print(1)", check=SUCCESS)
    sp.exec("1/0", check=CODE_FAILED)
    sp.exec("console.log(2)", language="javascript", check=SUCCESS)
    lines = sp.run("audit", "--format", "line", check=SUCCESS).stdout.splitlines()
    assert len(lines) == 3
    ts, user, language, success, time, error = lines[1].split(" | ")
    assert ts.endswith("Z") and len(ts) == len("2025-01-04T19:30:45.123Z")
    assert user.startswith("User: ") and language == "Language: python" and success == "Success: false"
    assert time.startswith("Time: ") and time.endswith("ms") and error == "Error: ZeroDivisionError: division by zero"
    assert lines[0].endswith("| Error: None")
    failed = sp.run("audit", "--failed", "--json", check=SUCCESS).stdout.splitlines()
    assert len(failed) == 1 and json.loads(failed[0])["error"].startswith("ZeroDivisionError")
    js = sp.run("audit", "--language", "js", "--json", check=SUCCESS).stdout.splitlines()
    assert [json.loads(l)["language"] for l in js] == ["javascript"]
    assert len(sp.run("audit", "--limit", "2", "--json", check=SUCCESS).stdout.splitlines()) == 2
    assert sp.run("audit", "--since", "2h", "--json", check=SUCCESS).stdout.count("\n") == 3
    assert sp.run("audit", "--until", "2000-01-01", "--json", check=SUCCESS).stdout == ""
    proc = sp.run("audit", "--since", "soon", check=USAGE)
    assert proc.stderr.startswith("sandpit: --since soon: expected a time like")


def test_verify_names_the_first_broken_record(sp):
    for i in range(4):
        sp.exec(f"print({i})", check=SUCCESS)
    log = sp.audit_path()
    good = log.read_bytes()
    lines = good.splitlines(keepends=True)
    # A flipped byte in record 2.
    log.write_bytes(b"".join(lines[:1] + [lines[1].replace(b'"exit_code":0', b'"exit_code":7')] + lines[2:]))
    proc = sp.run("audit", "verify", check=CODE_FAILED)
    assert "line 2: hash mismatch" in proc.stdout
    # A deleted line.
    log.write_bytes(b"".join(lines[:1] + lines[2:]))
    assert "line 2: broken chain" in sp.run("audit", "verify", check=CODE_FAILED).stdout
    # A reordered pair.
    log.write_bytes(b"".join([lines[0], lines[2], lines[1], lines[3]]))
    assert "line 2: broken chain" in sp.run("audit", "verify", check=CODE_FAILED).stdout
    # A torn tail: reported, kept, and the next record chains past it.
    log.write_bytes(good + lines[3][:40])
    # (4 runs: an intent and an outcome each, so the torn line is the 9th.)
    assert "line 9: torn record" in sp.run("audit", "verify", check=CODE_FAILED).stdout
    proc = sp.exec("print('after')", check=SUCCESS)
    assert "line 9 is torn" in proc.stderr
    text = log.read_bytes()
    assert text.startswith(good + lines[3][:40] + b"\n")
    out = sp.run("audit", "verify", check=CODE_FAILED).stdout
    assert "line 9: torn record" in out and "broken chain" not in out


def test_concurrent_writers_never_break_the_chain(sp, tmp_path):
    workspaces = []
    for i in range(16):
        ws = tmp_path / f"w{i}"
        ws.mkdir()
        workspaces.append(ws)
    errors = []

    def run(ws):
        for _ in range(3):
            proc = subprocess.run([SANDPIT, "exec", "--fresh", "-w", str(ws), "-c", "print(1)"],
                                  capture_output=True, text=True, env=sp.env(), timeout=120)
            if proc.returncode != 0:
                errors.append(proc.stderr)

    threads = [threading.Thread(target=run, args=(ws,)) for ws in workspaces]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sp.run("audit", "verify", check=SUCCESS).stdout.endswith(": 96 records, chain intact\n")  # an intent and an outcome per run


def test_stats_match_hand_computed_numbers(sp):
    sp.configure('[policy]\nmode = "block"\n')
    sp.exec("print(1)", check=SUCCESS)
    sp.exec("print(2)", check=SUCCESS)
    sp.exec("1/0", check=CODE_FAILED)
    sp.exec("eval('1')", check=3)
    sp.exec("console.log(1)", language="javascript", check=SUCCESS)
    records = [r for r in sp.audit_records()]
    stats = json.loads(sp.run("stats", "--json", check=SUCCESS).stdout)
    py = [r for r in records if r["language"] == "python"]
    durations = sorted(r["duration_ms"] for r in py)
    user = stats["users"][0]
    assert user["user"] == records[0]["user"]
    langs = {l["language"]: l for l in user["languages"]}
    assert langs["python"]["executions"] == 4 and langs["python"]["successes"] == 2
    assert langs["python"]["blocked"] == 1 and langs["python"]["timeouts"] == 0
    assert abs(langs["python"]["success_rate"] - 0.5) < 1e-9
    assert langs["python"]["p50_ms"] == durations[1]  # nearest rank: ceil(0.5 * 4) = 2
    assert langs["python"]["p95_ms"] == durations[3]
    assert abs(langs["python"]["mean_ms"] - sum(durations) / 4) < 0.01
    assert langs["javascript"]["executions"] == 1
    assert stats["total"]["executions"] == 5
    table = sp.run("stats", check=SUCCESS).stdout
    assert "python" in table and "javascript" in table and "ZeroDivisionError: division by zero" in table


def test_stats_count_repl_cells(sp):
    sp.run("-w", str(sp.workspace), input="x = 1\nx + 1\n", check=SUCCESS)
    sp.exec("print(1)", check=SUCCESS)
    commands = sorted(r["command"] for r in sp.audit_records())
    assert commands == ["exec", "repl", "repl"], commands
    stats = json.loads(sp.run("stats", "--json", check=SUCCESS).stdout)
    assert stats["total"]["executions"] == 3


def test_only_admins_read_other_users_records(sp):
    sp.system('[identity]\nuser = "ada"\nadmins = ["boss"]\n')
    sp.exec("print(1)", check=SUCCESS)
    proc = sp.run("audit", "--all", check=DENIED)
    assert proc.stderr.startswith("sandpit: access denied: only admins may read other users' records (you are ada")
    assert sp.run("stats", "--user", "boss", check=DENIED).returncode == DENIED
    # ada's own records: the run and her two denials.
    assert sp.run("audit", "--user", "ada", "--json", check=SUCCESS).stdout.count("\n") == 3
    denials = [r for r in sp.audit_records() if r["denied"]]
    assert [(r["command"], r["user"]) for r in denials] == [("audit", "ada"), ("stats", "ada")]
    sp.system('[identity]\nuser = "boss"\nadmins = ["boss"]\n')
    everyone = sp.run("audit", "--all", "--json", check=SUCCESS).stdout.splitlines()
    assert {json.loads(l)["user"] for l in everyone} == {"ada"}
    assert json.loads(sp.run("stats", "--all", "--json", check=SUCCESS).stdout)["total"]["denied"] == 0


def test_an_unwritable_log_stops_the_run(sp):
    sp.system(f'[audit]\npath = "{sp.root}/nope/dir/audit.jsonl"\n')
    (sp.root / "nope").write_text("a file, not a folder")
    proc = sp.exec("print(1)", check=125)
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"sandpit: audit log {sp.root}/nope/dir/audit.jsonl: open: ")
