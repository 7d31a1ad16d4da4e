"""Where sandpit's own output goes: a reader that closes the pipe, a full disk, a narrow
terminal, NO_COLOR. Every command, as a newcomer would meet them."""
import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import termios
import time

import pytest

from conftest import SANDPIT, SUCCESS

# Commands whose output is large enough (over a pipe's first write) once the log holds 60 runs.
COMMANDS = [
    ["audit", "--format", "line", "-n", "300"],
    ["audit", "--format", "table", "-n", "300"],
    ["audit", "--json", "-n", "0"],
    ["audit", "verify"],
    ["stats"],
    ["stats", "--json"],
    ["session", "list"],
    ["session", "list", "--json"],
    ["session", "info"],
    ["volume", "info"],
    ["config", "show"],
    ["doctor"],
    ["doctor", "--json"],
    ["--help"],
    ["exec", "--help"],
    ["--version"],
    ["exec", "-c", "for i in range(100000): print(i)"],
    ["exec", "--fresh", "-c", "for i in range(100000): print(i)"],
    ["exec", "--json", "-c", "print('x' * 300000)"],
    ["exec", "--events", "-c", "for i in range(20000): print(i)"],
    ["shell", "--", "seq 100000"],
]


@pytest.fixture
def busy(sp):
    """A workspace with a live session and 60 runs in the audit log (one REPL batch)."""
    sp.run("-w", str(sp.workspace), input="x = 1\n" * 60, check=SUCCESS)
    return sp


def run_into(sp, args, stdout, stdin=subprocess.DEVNULL, env=None):
    proc = subprocess.Popen([SANDPIT, *args], stdout=stdout, stderr=subprocess.PIPE, stdin=stdin,
                            cwd=sp.workspace, env=sp.env(env))
    return proc


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_closed_pipe_ends_the_command_quietly_as_sigpipe_would(busy, args):
    read_end, write_end = os.pipe()
    os.close(read_end)
    proc = run_into(busy, args, write_end)
    os.close(write_end)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGPIPE), (proc.returncode, err)
    assert b"internal error" not in err and b"Broken pipe" not in err, err


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_full_disk_is_reported_with_status_1(busy, args):
    with open("/dev/full", "w") as full:
        proc = run_into(busy, args, full)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (proc.returncode, err)
    assert err.decode().endswith("sandpit: write to standard output: No space left on device\n"), err


def test_the_repl_stops_at_a_closed_pipe_and_at_a_full_disk(busy):
    cells = b"for i in range(100000): print(i)\n\n.audit -n 5\nprint('after')\n"
    read_end, write_end = os.pipe()
    os.close(read_end)
    proc = run_into(busy, ["-w", str(busy.workspace)], write_end, stdin=subprocess.PIPE)
    os.close(write_end)
    _, err = proc.communicate(cells, timeout=60)
    assert proc.returncode == -signal.SIGPIPE and err == b"", (proc.returncode, err)
    with open("/dev/full", "w") as full:
        proc = run_into(busy, ["-w", str(busy.workspace)], full, stdin=subprocess.PIPE)
    _, err = proc.communicate(cells, timeout=60)
    assert proc.returncode == 1 and err == b"sandpit: write to standard output: No space left on device\n", err


def test_an_endless_writer_stops_when_its_reader_goes_and_the_session_lives_on(busy):
    busy.configure('[limits]\ntimeout = "60s"\n')
    started = time.monotonic()
    for extra in ([], ["--fresh"]):
        pipeline = subprocess.run(["sh", "-c", f'"$0" exec {" ".join(extra)} -c "while True: print(1)" | head -1; echo "${{PIPESTATUS:-}}"',
                                   SANDPIT], capture_output=True, text=True, env=busy.env(), cwd=busy.workspace, timeout=60)
        assert pipeline.stdout.startswith("1\n"), pipeline
        assert "internal error" not in pipeline.stderr, pipeline.stderr
    assert time.monotonic() - started < 20
    assert busy.exec("print(x)", check=SUCCESS).stdout == "1\n"
    records = busy.audit_records()
    assert records[-2]["error"] == "write to standard output: Broken pipe"  # the --fresh run, recorded by its client


def on_terminal(sp, args, columns, env=None, timeout=90):
    """Runs sandpit with stdout and stderr on a pseudo-terminal `columns` wide; returns its output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen([SANDPIT, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            cwd=sp.workspace, env=sp.env(env))
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    proc.wait(timeout=timeout)
    return proc.returncode, out.decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.parametrize("args", [["session", "list"], ["audit", "-n", "5"], ["stats"], ["doctor"], ["--help"],
                                  ["exec", "--help"], ["session", "--help"]], ids=" ".join)
def test_a_40_column_terminal_gets_lines_that_fit(busy, args):
    status, out = on_terminal(busy, args, 40)
    assert status == 0, out
    too_wide = [line for line in out.splitlines() if len(line) > 40]
    assert too_wide == [], out
    wide_status, wide = on_terminal(busy, args, 200)
    assert wide_status == 0
    assert len(wide.splitlines()) <= len(out.splitlines())


def test_the_narrow_layouts_keep_every_figure(busy):
    _, listed = on_terminal(busy, ["session", "list"], 40)
    info = json.loads(busy.run("session", "info", "--json", "-w", str(busy.workspace), check=SUCCESS).stdout)
    assert str(busy.workspace).endswith(listed.splitlines()[0].lstrip("…"))
    assert f"pid {info['pid']}" in listed and "60 runs" in listed
    _, stats = on_terminal(busy, ["stats"], 40)
    assert "60 runs · 100.0% ok" in stats and "(everyone) · (all)" in stats
    _, audit = on_terminal(busy, ["audit", "-n", "1"], 40)
    assert "repl · python · ok · exit 0" in audit


def test_no_color_keeps_sandbox_colour_off_a_terminal(sp):
    code = "import sys; print('\\x1b[31mred\\x1b[0m'); print('err', file=sys.stderr)"
    _, coloured = on_terminal(sp, ["exec", "-w", str(sp.workspace), "-c", code], 80)
    assert "\x1b[31mred\x1b[0m" in coloured
    _, plain = on_terminal(sp, ["exec", "-w", str(sp.workspace), "-c", code], 80, env={"NO_COLOR": "1"})
    assert "\x1b" not in plain and "^[[31mred^[[0m" in plain, plain
