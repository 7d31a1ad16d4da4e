"""The dangerous-pattern list per mode and language, and access.exec. Refusals are audited."""
import json

from conftest import SUCCESS, CODE_FAILED, POLICY, DENIED


def test_block_mode_refuses_with_reason_and_line_and_nothing_runs(sp):
    sp.configure('[policy]\nmode = "block"\n')
    proc = sp.exec("x = 1\nimport shutil\nshutil.rmtree('/workspace')\n", check=POLICY)
    assert proc.stdout == ""
    assert proc.stderr.startswith("sandpit: refused by policy: line 3: shutil.rmtree deletes a directory tree "
                                  "(pattern from (default):")
    assert proc.stderr.count("\n") == 1
    proc = sp.exec("require('child_process').execSync('id')", language="javascript", check=POLICY)
    assert "require of fs or child_process" in proc.stderr
    marker = sp.workspace / "x"
    proc = sp.shell("touch /workspace/x; curl -s http://127.0.0.1:9/ | sh", check=POLICY)
    assert "piping a download into a shell" in proc.stderr
    records = sp.audit_records()
    assert [r["blocked"] for r in records] == ["shutil.rmtree deletes a directory tree",
                                               "require of fs or child_process reaches files and programs",
                                               "piping a download into a shell runs unreviewed code"]
    assert all(r["success"] is False and r["exit_code"] == POLICY for r in records)
    assert [r["command"] for r in records] == ["exec", "exec", "shell"]
    # Ordinary code still runs.
    assert sp.exec("print(sum(range(4)))", check=SUCCESS).stdout == "6\n"


def test_warn_mode_runs_and_warns(sp):
    sp.configure('[policy]\nmode = "warn"\n')
    proc = sp.exec("import os\nprint(os.path.exists('/workspace'))\nos.remove('/workspace/none')", check=CODE_FAILED)
    assert proc.stdout == "True\n"
    assert proc.stderr.startswith("sandpit: policy: line 3: os.remove/os.unlink/os.rmdir delete files "
                                  "(warn mode: running it anyway)\n")
    assert "FileNotFoundError" in proc.stderr
    assert sp.audit_records()[-1]["blocked"] is None


def test_off_mode_skips_the_screen(sp):
    sp.configure('[policy]\nmode = "off"\n')
    proc = sp.exec("print(eval('6*7'))", check=SUCCESS)
    assert proc.stdout == "42\n" and proc.stderr == ""


def test_nfkc_evasion_is_caught(sp):
    sp.configure('[policy]\nmode = "block"\n')
    # Fullwidth "ｅｖａｌ": Python normalises identifiers with NFKC, so this is eval.
    proc = sp.exec("print(\uff45\uff56\uff41\uff4c('6*7'))", check=POLICY)
    assert "exec/eval run code built at run time" in proc.stderr
    sp.configure('[policy]\nmode = "off"\n')
    assert sp.exec("print(\uff45\uff56\uff41\uff4c('6*7'))", check=SUCCESS).stdout == "42\n"


def test_a_configured_pattern_for_one_language(sp):
    sp.configure('[policy]\nmode = "block"\n[[policy.patterns]]\nlanguages = ["javascript"]\n'
                 "regex = '\\bprocess\\.exit\\b'\nreason = \"no exiting\"\n")
    assert "no exiting" in sp.exec("process.exit(3)", language="javascript", check=POLICY).stderr
    # A file's list replaces the shipped one, and the pattern is for JavaScript only.
    assert sp.exec("import subprocess; print('ok')", check=SUCCESS).stdout == "ok\n"


def test_bypass_of_the_list_is_still_contained_by_the_jail(sp):
    sp.configure('[policy]\nmode = "block"\n')
    # getattr(__builtins__, 'ev'+'al') is not on the list; the jail still holds.
    code = ("f = getattr(__builtins__, 'ev' + 'al')\n"
            "print(f(\"__import__('os').path.exists('/root/.bashrc') or __import__('os').getuid()\"))")
    proc = sp.exec(code, check=SUCCESS)
    assert proc.stdout.strip() in ("65534", "False", "1000")


def test_exec_is_admin_only_when_configured(sp):
    sp.system('[access]\nexec = "admins"\n[identity]\nadmins = ["boss"]\n')
    proc = sp.exec("print(1)", check=DENIED)
    assert proc.stdout == ""
    assert proc.stderr.startswith("sandpit: access denied: only admins may run code here")
    denied = sp.audit_records()[-1]
    assert denied["denied"] == 'access.exec is "admins"' and denied["success"] is False
    sp.system('[access]\nexec = "admins"\n[identity]\nuser = "boss"\nadmins = ["boss"]\n')
    assert sp.exec("print(1)", check=SUCCESS).stdout == "1\n"
    assert sp.audit_records()[-1]["user"] == "boss"
