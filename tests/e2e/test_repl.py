"""The REPL (`sandpit` with no command), driven as a user would: in a real
terminal through tmux (send-keys, capture-pane), and in batch mode with cells on stdin."""
import itertools
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SANDPIT, CODE_FAILED, USAGE, TIMED_OUT

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/setup --test)")

_sockets = itertools.count()


class Terminal:
    """One sandpit REPL in a detached tmux session on a private server socket."""

    def __init__(self, sp, *args):
        self.socket = f"sandpit-test-{os.getpid()}-{next(_sockets)}"
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sp.env({"TERM": "xterm-256color"}).items())
        command = f"env -i {env} {shlex.quote(SANDPIT)} -w {shlex.quote(str(sp.workspace))} {' '.join(args)}"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-x", "150", "-y", "50", "-s", "repl", command)
        self.tmux("set-option", "-t", "repl", "remain-on-exit", "on")
        self.wait_for("Ctrl-D leaves")

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)

    def send(self, *keys):
        self.tmux("send-keys", "-t", "repl", *keys)

    def type(self, line):
        """Types a line literally, then Enter."""
        self.tmux("send-keys", "-t", "repl", "-l", line)
        self.send("Enter")

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", "-J", *(["-e"] if escapes else []), "-t", "repl", "-S", "-200").stdout

    def wait_for(self, pattern, timeout=60, escapes=False):
        """Polls the pane until `pattern` (a regex) appears; returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.screen(escapes), re.MULTILINE)
            if match:
                return match
            if time.monotonic() > deadline:
                pytest.fail(f"waited {timeout}s for {pattern!r}; the screen:\n{self.screen()}")
            time.sleep(0.1)

    def dead(self):
        return self.tmux("display-message", "-p", "-t", "repl", "#{pane_dead}").stdout.strip() == "1"

    def close(self):
        path = self.tmux("display-message", "-p", "#{socket_path}").stdout.strip()
        self.tmux("kill-server")
        if path:
            Path(path).unlink(missing_ok=True)  # tmux leaves the socket file of a killed server


@pytest.fixture
def term(sp):
    terminals = []

    def start(*args):
        terminals.append(Terminal(sp, *args))
        return terminals[-1]

    yield start
    for t in terminals:
        t.close()


def test_expression_values_and_a_multi_line_def(sp, term):
    t = term()
    t.type("6 * 7")
    t.wait_for(r"^Out\[\d+\]: 42$")
    t.type("def twice(a):")
    t.wait_for(r"^ +\.\.\. ❯ ?$")  # the continuation prompt: the def waits for its body
    t.type("    return a * 2")
    t.type("")
    t.type("twice(21) + 100")
    t.wait_for(r"^Out\[\d+\]: 142$")
    assert "py sandpit:ws ❯ " in t.screen()
    assert [r["command"] for r in sp.audit_records()].count("repl") >= 2


def test_an_open_bracket_waits_for_its_close(term):
    t = term()
    t.type("values = [1,")
    t.type("2, 3]")
    t.type("sum(values)")
    t.wait_for(r"^Out\[\d+\]: 6$")


def test_ctrl_c_interrupts_the_cell_and_keeps_the_state(term):
    t = term()
    t.type("kept = 'still here'")
    t.type("while True: pass")
    t.type("")
    time.sleep(1.5)
    t.send("C-c")
    t.wait_for(r"^KeyboardInterrupt")
    t.type("kept")
    t.wait_for(r"^Out\[\d+\]: 'still here'$")


def test_ctrl_c_at_the_prompt_clears_the_line_and_ctrl_d_leaves(term):
    t = term()
    t.send("-l", "this is not code")
    t.send("C-c")
    t.type("1 + 1")
    t.wait_for(r"^Out\[\d+\]: 2$")
    assert "SyntaxError" not in t.screen()
    t.send("C-d")
    deadline = time.monotonic() + 10
    while not t.dead():
        assert time.monotonic() < deadline, t.screen()
        time.sleep(0.1)


def test_dot_commands_reach_the_cli_commands(sp, term):
    t = term()
    t.type(".js")
    t.type("[1, 2, 3].map((x) => x * 2).length")
    t.wait_for(r"^Out\[\d+\]: 3$")
    assert "js sandpit:ws ❯ " in t.screen()
    t.type(".session info")
    t.wait_for(r"^kernels +.*javascript")
    t.type("!echo from-the-$((6*7))-shell")
    t.wait_for(r"^from-the-42-shell$")
    t.type(".exec -l python -c 'print(\"via exec\")'")
    t.wait_for(r"^via exec$")
    t.type(".help")
    t.wait_for(r"^  \.stats +")
    t.type(".py")
    t.type("'back in python'")
    t.wait_for(r"^Out\[\d+\]: 'back in python'$")
    commands = [r["command"] for r in sp.audit_records()]
    assert set(commands) == {"repl"}, commands


def test_typescript_cells_wait_for_their_end_and_share_javascripts_globals(term):
    t = term("-l", "ts")
    t.wait_for(r"ts sandpit:ws ❯ $")
    t.type("function area(r: number): number {")
    t.wait_for(r"^ +\.\.\. ❯ ?$")  # esbuild's parse ends too early: more lines
    t.type("  return Math.round(Math.PI * r ** 2)")
    t.type("}")
    t.type("const note: string = `two")
    t.type("lines`")
    t.type("[area(2), note.split('\\n').length]")
    t.wait_for(r"^Out\[\d+\]: \[ 13, 2 \]$")
    t.type(".js")
    t.type("area(1)")
    t.wait_for(r"^Out\[\d+\]: 3$")
    t.type(".ts")
    t.type("const broken: = 1")  # can never be valid: runs at once, and says where
    t.wait_for(r"^SyntaxError: Unexpected \"=\"$")
    assert re.search(r"^<cell \d+>:1\nconst broken: = 1\n {14}\^$", t.screen(), re.MULTILINE), t.screen()


def test_a_mistyped_command_gets_did_you_mean(term):
    t = term()
    t.type(".exce -c 1")
    t.wait_for(r"^sandpit: \.exce: unknown command \(did you mean \.exec\?\)$")
    t.type(".sesion info")
    t.wait_for(r"did you mean \.session\?")


def test_tab_completes_dot_commands_and_options(term):
    t = term()
    t.send("-l", ".sess")
    t.send("Tab")
    t.wait_for(r"❯ \.session ?$")
    t.send("C-u")
    t.send("-l", ".exec --js")
    t.send("Tab")
    t.wait_for(r"❯ \.exec --json ?$")


def test_history_is_kept_across_two_runs(sp, term):
    first = term()
    first.type("history_marker = 31337")
    first.wait_for(r"❯ history_marker = 31337\n.*❯", timeout=30)
    first.send("C-d")
    second = term()
    second.send("Up")
    second.wait_for(r"❯ history_marker = 31337$")
    second.send("Enter")
    second.type("history_marker")
    second.wait_for(r"^Out\[\d+\]: 31337$")


def test_control_characters_from_code_are_escaped(term):
    t = term()
    t.type("print('before')")
    t.wait_for(r"^before$")
    t.type(r"print('\x1b]2;pwned\x07\x1b[2J\x1b[31mred\x1b[0m after')")
    t.wait_for(r"^\^\[\]2;pwned\^G\^\[\[2J.*after$")
    # The title was not set, the screen not cleared; the colour (SGR) passed on the terminal.
    assert t.tmux("display-message", "-p", "-t", "repl", "#{pane_title}").stdout.strip() != "pwned"
    assert "before" in t.screen()
    assert "\x1b[31mred" in t.screen(escapes=True)


def test_no_color_keeps_stderr_and_sgr_plain(sp, term):
    t = term()
    t.type("import sys; print('oops', file=sys.stderr)")
    t.wait_for(r"^oops$")
    assert re.search(r"\x1b\[31moops", t.screen(escapes=True))
    plain = Terminal.__new__(Terminal)
    env = sp.env({"TERM": "xterm-256color", "NO_COLOR": "1"})
    plain.socket = f"sandpit-test-{os.getpid()}-{next(_sockets)}"
    command = f"env -i {' '.join(f'{k}={shlex.quote(v)}' for k, v in env.items())} {SANDPIT} -w {shlex.quote(str(sp.workspace))}"
    plain.tmux("-f", "/dev/null", "new-session", "-d", "-x", "150", "-y", "50", "-s", "repl", command)
    try:
        plain.wait_for("Ctrl-D leaves")
        plain.type(r"import sys; print('\x1b[32mgreen', file=sys.stderr)")
        plain.wait_for(r"^\^\[\[32mgreen$")
        assert "\x1b[31m" not in plain.screen(escapes=True)
    finally:
        plain.close()


def test_a_quiet_run_shows_a_spinner_until_it_ends(term):
    t = term()
    t.type("import time; time.sleep(3); print('slept')")
    t.wait_for(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] [12]\.\ds$")
    t.wait_for(r"^slept$")
    assert not re.search(r"^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] ", t.screen(), re.MULTILINE)


def test_a_matplotlib_figure_is_announced(sp, term):
    t = term()
    t.type("import matplotlib.pyplot as plt")
    t.type("plt.plot([1, 4, 9]); plt.show()")
    path = t.wait_for(r"^\[image: (\S+\.png)\]$").group(1)
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- batch mode: cells on stdin ---------------------------------------------

def batch(sp, text, *args, **kw):
    return sp.run("-w", str(sp.workspace), *args, input=text, **kw)


def test_batch_runs_each_complete_cell_with_its_output(sp):
    cells = "x = 6 * 7\nx\ndef f(a):\n    return a + 1\n\nf(x)\nprint('hi')\n.sh\necho $((x + 1))\n!echo bang\n.js\n[1,\n2].length\n"
    proc = batch(sp, cells, check=0)
    assert proc.stdout == "42\n43\nhi\n1\nbang\n2\n"
    assert "\x1b" not in proc.stdout + proc.stderr and "❯" not in proc.stdout


def test_batch_typescript_cells(sp):
    cells = ".ts\ninterface P {\n  x: number\n}\nconst p: P = { x: 41 }\nenum E {\n  A = 1,\n}\np.x + E.A\n.lang javascript\np.x\n"
    proc = batch(sp, cells, check=0)
    assert proc.stdout == "42\n41\n"


def test_batch_stops_at_the_first_failure_with_its_status(sp):
    proc = batch(sp, "print(1)\n1/0\nprint(2)\n")
    assert proc.returncode == CODE_FAILED
    assert proc.stdout == "1\n"
    assert "ZeroDivisionError: division by zero" in proc.stderr
    assert re.search(r'File "<cell \d+>", line 1', proc.stderr) and "driver" not in proc.stderr, proc.stderr
    proc = batch(sp, "print(1)\n.lang cobol\nprint(2)\n")
    assert proc.returncode == USAGE, proc.stderr
    assert proc.stdout == "1\n"


def test_batch_timeout_status(sp):
    sp.configure('[limits]\ntimeout = "1s"\n')
    proc = batch(sp, "print('start')\nwhile True: pass\n\nprint('never')\n")
    assert proc.returncode == TIMED_OUT, proc.stderr
    assert proc.stdout == "start\n"


def test_batch_keep_going_runs_every_cell(sp):
    proc = batch(sp, "print(1)\n1/0\nprint(2)\n.nope\nprint(3)\n", "--keep-going")
    assert proc.returncode == CODE_FAILED  # the first failure's status
    assert proc.stdout == "1\n2\n3\n"
    assert "did you mean" not in proc.stderr or ".nope" in proc.stderr


def test_batch_output_is_escaped(sp):
    proc = batch(sp, r"print('\x1b]0;t\x07\x1b[1mbold')" + "\n", check=0)
    assert proc.stdout == "^[]0;t^G^[[1mbold\n"


def test_repl_options_apply_to_the_repl_only(sp):
    proc = sp.run("--keep-going", "exec", "-c", "1")
    assert proc.returncode == USAGE
    assert "apply to the REPL only" in proc.stderr
