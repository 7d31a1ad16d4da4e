"""`sandpit config show|check|path`, precedence and origins, and the system config's authority."""
import json

from conftest import USAGE, SUCCESS


def test_show_prints_every_value_with_its_origin(sp):
    sp.configure('[limits]\ntimeout = "7s"\n')
    out = sp.run("config", "show", check=SUCCESS).stdout
    assert '(~/sandpit.toml) limits.timeout = "7s"' in out  # HOME is the test's root
    assert '(default) limits.memory = "512MiB"' in out
    assert "(default) policy.patterns[0] = {languages = [" in out
    shown = json.loads(sp.run("config", "show", "--json", check=SUCCESS).stdout)
    assert shown["limits.timeout"] == {"value": "7s", "origin": str(sp.config_file)}
    assert shown["limits.pids"] == {"value": 256, "origin": "(default)"}
    assert shown["policy.mode"]["value"] == "warn"


def test_precedence_system_then_user_then_explicit_file(sp):
    sp.system('[limits]\nmemory = "256MiB"\ntimeout = "20s"\n')
    user = sp.config_home / "sandpit" / "config.toml"  # made by the fixture (pool = 0)
    user.write_text('[session]\npool = 0\n[limits]\nmemory = "128MiB"\ntimeout = "10s"\n')
    sp.configure('[limits]\ntimeout = "5s"\n')
    shown = json.loads(sp.run("config", "show", "--json", check=SUCCESS).stdout)
    assert shown["limits.memory"] == {"value": "128MiB", "origin": str(user)}
    assert shown["limits.timeout"] == {"value": "5s", "origin": str(sp.config_file)}
    paths = json.loads(sp.run("config", "path", "--json", check=SUCCESS).stdout)
    assert [(p["kind"], p["path"], p["read"]) for p in paths] == [
        ("system", str(sp.system_file), True), ("user", str(user), True), ("--config", str(sp.config_file), True)]


def test_a_user_cannot_make_themselves_admin_or_loosen_limits(sp):
    sp.system('[identity]\nadmins = ["boss"]\n[limits]\nmemory = "256MiB"\n')
    sp.configure('[identity]\nadmins = ["me"]\n')
    proc = sp.exec("print(1)", check=USAGE)
    assert proc.stderr == (f"sandpit: {sp.config_file}:2:10: identity.admins: only the system config "
                           f"({sp.system_file}) may set this\n")
    sp.configure('[limits]\nmemory = "1GiB"\n')
    proc = sp.exec("print(1)", check=USAGE)
    assert proc.stderr == (f'sandpit: {sp.config_file}:2:10: limits.memory: the system config allows at most 256MiB, '
                           'got "1GiB"\n')
    sp.configure("")
    proc = sp.exec("print(1)", "--timeout", "1h", check=USAGE)
    assert proc.stderr == "sandpit: --timeout 1h: the system config allows at most 30s\n"


def test_config_errors_are_one_line_with_position_and_nothing_runs(sp):
    marker = sp.workspace / "ran"
    for text, expected in [
        ('[limits]\nmemory = "lots"\n', ':2:10: limits.memory: expected a size like "512MiB", got "lots"'),
        ('[limits]\ntimout = "5s"\n', ":2:1: unknown key 'limits.timout' (did you mean 'limits.timeout'?)"),
        ("[[policy.patterns]]\nregex = 'a(b'\nreason = \"x\"\n",
         ":2:9: policy.patterns[0].regex: missing closing parenthesis at character 3"),
        ('[policy]\nmode = "strict"\n', ':2:8: policy.mode: expected "off", "warn" or "block", got "strict"'),
    ]:
        sp.configure(text)
        proc = sp.shell(f"touch /workspace/ran", check=USAGE)
        assert proc.stderr == f"sandpit: {sp.config_file}{expected}\n"
        assert not marker.exists()


def test_config_check_validates_one_file(sp, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[limits]\ntimeout = "1m"\n')
    assert sp.run("config", "check", str(good), check=SUCCESS).stdout == f"{good}: ok\n"
    bad = tmp_path / "bad.toml"
    bad.write_text('[limits]\npids = "many"\n')
    proc = sp.run("config", "check", str(bad), check=USAGE)
    assert proc.stderr == f'sandpit: {bad}:2:8: limits.pids: expected a whole number, got "many"\n'
    assert sp.run("config", "check", str(tmp_path / "none.toml"), check=USAGE).stderr.endswith(": No such file or directory\n")
