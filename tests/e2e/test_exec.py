"""`sandpit exec` and `sandpit shell` as a user calls them: languages, inputs, output, exit codes."""
import json
import re
import os
import subprocess
import time

import pytest

from conftest import CODE_FAILED, SANDPIT, SETUP, SUCCESS, USAGE

CONTRACT_KEYS = ["success", "language", "stdout", "stderr", "result", "images", "error", "exit_code",
                 "timed_out", "duration_ms", "stdout_truncated", "stderr_truncated", "session", "execution_count"]


@pytest.mark.parametrize("language,code,expected", [
    ("python", "print('hi from python')", "hi from python\n"),
    ("py", "print(6 * 7)", "42\n"),
    ("javascript", "console.log('hi from node')", "hi from node\n"),
    ("js", "console.log(6 * 7)", "42\n"),
    ("node", "console.log([1, 2].length)", "2\n"),
    ("bash", "echo hi from bash", "hi from bash\n"),
    ("sh", "echo $((6 * 7))", "42\n"),
])
def test_each_language_and_alias_runs(sp, language, code, expected):
    proc = sp.exec(code, language=language, check=SUCCESS)
    assert proc.stdout == expected


def test_python_final_expression_value_is_printed(sp):
    assert sp.exec("x = 20\nx * 2 + 2", check=SUCCESS).stdout == "42\n"
    assert sp.exec("def f():\n    return 'v'\nf()", check=SUCCESS).stdout == "'v'\n"
    assert sp.exec("[1,\n 2]", check=SUCCESS).stdout == "[1, 2]\n"
    assert sp.exec("x = 1; x", check=SUCCESS).stdout == "1\n"
    assert sp.exec("x = 1", check=SUCCESS).stdout == ""
    assert sp.exec("None", check=SUCCESS).stdout == ""


def test_javascript_final_expression_value_is_printed(sp):
    assert sp.exec("const a = [1, 2, 3]; a.map(x => x * 2)", language="js", check=SUCCESS).stdout == "[ 2, 4, 6 ]\n"


def test_code_from_stdin(sp):
    proc = sp.run("exec", "-w", str(sp.workspace), input="import sys\nprint('stdin', sys.argv[0])\n", check=SUCCESS)
    assert proc.stdout == "stdin <stdin>\n"
    proc = sp.run("exec", "-w", str(sp.workspace), "-l", "bash", "-", input="echo from-dash\n", check=SUCCESS)
    assert proc.stdout == "from-dash\n"


@pytest.mark.parametrize("name,body,expected", [
    ("job.py", "print('py file')", "py file\n"),
    ("job.js", "console.log('js file')", "js file\n"),
    ("job.sh", "echo sh file", "sh file\n"),
])
def test_file_language_comes_from_its_extension(sp, tmp_path, name, body, expected):
    path = tmp_path / name
    path.write_text(body)
    assert sp.run("exec", "-w", str(sp.workspace), str(path), check=SUCCESS).stdout == expected


def test_a_fresh_run_keeps_the_value_of_an_async_javascript_cell(sp):
    # The cell is sent, then EOF: the driver must still answer when the await is over.
    proc = sp.exec("await new Promise((r) => setTimeout(r, 50)); 6 * 7", "--fresh", language="js", check=SUCCESS)
    assert proc.stdout == "42\n"


def test_workspace_files_persist_between_fresh_runs(sp):
    sp.exec("open('/workspace/note.txt', 'w').write('kept')", check=SUCCESS)
    assert sp.shell("cat /workspace/note.txt", check=SUCCESS).stdout == "kept"
    assert (sp.files_dir() / "note.txt").read_text() == "kept"


def test_shell_runs_in_workspace_as_sandbox_user(sp):
    proc = sp.shell("pwd; id -un; echo $HOME", check=SUCCESS)
    assert proc.stdout.split() == ["/workspace", "sandbox", "/workspace"]


def test_json_has_exactly_the_contract_fields(sp):
    proc, result = sp.exec_json("print('out')\n21 * 2", check=SUCCESS)
    assert list(result) == CONTRACT_KEYS
    assert result["success"] is True and result["language"] == "python"
    assert result["stdout"] == "out\n" and result["stderr"] == ""
    assert result["result"] == {"text/plain": "42"}
    assert result["images"] == [] and result["error"] is None and result["exit_code"] == 0
    assert result["timed_out"] is False and isinstance(result["duration_ms"], (int, float))
    assert result["session"].startswith("ws-") and result["execution_count"] == 1


def test_json_python_exception_has_name_value_and_user_traceback(sp):
    proc, result = sp.exec_json("def f():\n    raise ValueError('boom')\nf()", check=CODE_FAILED)
    assert result["success"] is False and result["exit_code"] == 1
    error = result["error"]
    assert error["name"] == "ValueError" and error["value"] == "boom"
    assert re.search(r'File "<cell \d+>", line 2, in f', error["traceback"]), error["traceback"]
    assert "<string>" not in error["traceback"], "driver frames must not show"
    assert error["traceback"] in result["stderr"]


def test_json_javascript_error(sp):
    proc, result = sp.exec_json("null.x", language="js", check=CODE_FAILED)
    assert result["error"]["name"] == "TypeError"
    assert "Cannot read properties of null" in result["error"]["value"]
    assert re.search(r"<cell \d+>:1", result["error"]["traceback"]), result["error"]["traceback"]


def test_bash_nonzero_exit(sp):
    proc, result = sp.exec_json("echo out; echo err >&2; exit 3", language="bash", check=CODE_FAILED)
    assert (result["stdout"], result["stderr"], result["exit_code"]) == ("out\n", "err\n", 3)
    assert sp.shell("exit 7").returncode == CODE_FAILED


def test_python_sys_exit_codes(sp):
    assert sp.exec("import sys; sys.exit(0)").returncode == SUCCESS
    proc, result = sp.exec_json("import sys; sys.exit(5)", check=CODE_FAILED)
    assert result["exit_code"] == 5 and result["error"]["name"] == "SystemExit"


def test_syntax_error_is_a_code_failure(sp):
    proc, result = sp.exec_json("def (:", check=CODE_FAILED)
    assert result["error"]["name"] == "SyntaxError"


def test_non_utf8_output_is_replaced_not_fatal(sp):
    proc, result = sp.exec_json("import sys; sys.stdout.buffer.write(b'ok\\xff\\n')", check=SUCCESS)
    assert result["stdout"].startswith("ok")


def test_output_streams_live(sp):
    code = "import time\nprint('first', flush=True)\ntime.sleep(3)\nprint('second')"
    proc = subprocess.Popen([SANDPIT, "exec", "-w", str(sp.workspace), "-c", code], stdout=subprocess.PIPE,
                            text=True, env=sp.env())
    start = time.monotonic()
    assert proc.stdout.readline() == "first\n"
    assert time.monotonic() - start < 2.5, "the first line must arrive before the run ends"
    assert proc.stdout.read() == "second\n"
    assert proc.wait(timeout=30) == SUCCESS


@pytest.mark.parametrize("args,message", [
    (["exec", "-l", "cobol", "-c", "x"], "sandpit: --language cobol: unknown language"),
    (["exec", "-c", "1", "file.py"], "sandpit: exec: give either -c CODE or FILE, not both"),
    (["exec", "--timeout", "soon", "-c", "1"], 'sandpit: --timeout soon: expected a duration like "30s"'),
    (["exec", "/nonexistent/job.py"], "sandpit: read /nonexistent/job.py: open /nonexistent/job.py: No such file or directory"),
    (["exec", "--no-such-flag"], "sandpit: usage:"),
    (["frobnicate"], "sandpit: usage:"),
])
def test_usage_errors_exit_2_with_one_line(sp, args, message):
    proc = sp.run(*args)
    assert proc.returncode == USAGE
    assert proc.stderr.startswith(message), proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""


def test_bad_config_exits_2_naming_file_line_and_column(sp):
    sp.configure("[limits]\nmemory = \"lots\"\n")
    proc = sp.exec("1")
    assert proc.returncode == USAGE
    assert proc.stderr == f'sandpit: {sp.config_file}:2:10: limits.memory: expected a size like "512MiB", got "lots"\n'
    sp.configure("[limits]\ntimout = \"5s\"\n")
    proc = sp.exec("1")
    assert proc.returncode == USAGE
    assert "unknown key 'limits.timout' (did you mean 'limits.timeout'?)" in proc.stderr


def test_missing_interpreter_is_a_setup_failure(sp):
    sp.configure('[languages.python]\ncommand = ["/usr/bin/no-such-python"]\n')
    proc = sp.exec("1")
    assert proc.returncode == SETUP
    assert proc.stderr == "sandpit: start python: execve /usr/bin/no-such-python: No such file or directory\n"


def test_version_and_help(sp):
    version = sp.run("--version", check=SUCCESS).stdout
    assert version.startswith("sandpit ")
    for command in ("exec", "shell", "doctor"):
        assert "--help" in sp.run(command, "--help", check=SUCCESS).stdout


def test_doctor_reports_every_layer(sp):
    proc = sp.run("doctor", "-w", str(sp.workspace), "--json")
    report = json.loads(proc.stdout)
    layers = {c["layer"]: c for c in report["checks"]}
    for layer in ("user namespace", "pid namespace", "mnt namespace", "net namespace", "ipc namespace",
                  "uts namespace", "cgroup namespace", "seccomp", "no_new_privs", "capabilities",
                  "python", "javascript", "bash"):
        assert layers[layer]["ok"], layers[layer]


def test_output_to_a_terminal_cannot_drive_it_but_pipes_get_raw_bytes(sp):
    """Cursor moves, screen clears, title changes and OSC sequences from sandboxed code are shown as text
    on a terminal; SGR colour passes there; a pipe gets the bytes unchanged."""
    import pty
    code = "print('\\x1b]0;pwned\\x07a\\x1b[2Jb\\x1b[31mred\\x1b[0m')"
    master, slave = pty.openpty()
    proc = subprocess.run([SANDPIT, "exec", "-w", str(sp.workspace), "-c", code], stdin=subprocess.DEVNULL,
                          stdout=slave, stderr=slave, env=sp.env(), timeout=60)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"\x1b]" not in out and b"\x1b[2J" not in out and b"\x07" not in out, out
    assert b"\x1b[31mred\x1b[0m" in out
    piped = sp.exec(code, check=0).stdout
    assert piped == "\x1b]0;pwned\x07a\x1b[2Jb\x1b[31mred\x1b[0m\n"
