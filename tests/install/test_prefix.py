"""`cmake --install build --prefix ~/.local`, as a user without root would run
it: every file lands under the prefix, a copy of its source, and man and
bash-completion find theirs there with no setup."""
import filecmp
import shutil
import stat
from pathlib import Path

import pytest

from conftest import BUILD_DIR, CMAKE, User, built_version, expected_files, run, skip_unless


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A user whose ~/.local holds a fresh `cmake --install`, with ~/.local/bin first on PATH."""
    root = tmp_path_factory.mktemp("prefix")
    user = User(root)
    prefix = user.home / ".local"
    user.path = f"{prefix}/bin:/usr/bin:/bin"
    run([CMAKE, "--install", str(BUILD_DIR), "--prefix", str(prefix)], env=user.env(), cwd=user.cwd)
    yield user, prefix
    user.stop_sessions()


def test_every_file_and_nothing_else_is_under_the_prefix(installed):
    _, prefix = installed
    expected = expected_files(prefix)
    found = {p.relative_to(prefix).as_posix() for p in prefix.rglob("*") if not p.is_dir()}
    assert found == set(expected), f"missing: {sorted(set(expected) - found)}; unexpected: {sorted(found - set(expected))}"
    # cmake's own record of what it wrote: nothing outside the prefix (no /etc,
    # no absolute destination that would need root).
    manifest = (BUILD_DIR / "install_manifest.txt").read_text().split()
    assert sorted(manifest) == sorted(str(prefix / rel) for rel in expected)


def test_each_file_is_a_copy_of_its_source_with_the_right_mode(installed):
    _, prefix = installed
    for rel, source in expected_files(prefix).items():
        target = prefix / rel
        assert filecmp.cmp(target, source, shallow=False), f"{rel} differs from {source}"
        mode = stat.S_IMODE(target.stat().st_mode)
        want = 0o755 if rel.startswith("bin/") else 0o644
        assert mode == want, f"{rel} has mode {mode:o}, not {want:o}"


def test_sandpit_on_path_runs_and_prints_the_built_version(installed):
    user, prefix = installed
    assert shutil.which("sandpit", path=user.path) == str(prefix / "bin" / "sandpit")
    assert user.run("sandpit", "--version").stdout == f"sandpit {built_version()}\n"
    assert user.run("sandpit", "exec", "-c", "print(6 * 7)", timeout=90).stdout == "42\n"


def test_man_finds_the_page_beside_bin_on_path(installed):
    user, prefix = installed
    skip_unless(shutil.which("man"), "man is not installed (apt-get install man-db)")
    found = user.run("man", "-w", "sandpit").stdout.strip()
    assert found == str(prefix / "share" / "man" / "man1" / "sandpit.1")


def test_bash_completion_loads_the_file_from_the_users_data_dir(installed):
    user, prefix = installed
    main = Path("/usr/share/bash-completion/bash_completion")
    skip_unless(main.is_file(), "bash-completion is not installed (apt-get install bash-completion)")
    # bash-completion's loader, as TAB would call it: nothing for sandpit until
    # asked, then the file from ~/.local/share/bash-completion/completions.
    script = f"""
source {main}
complete -p sandpit 2>/dev/null && {{ echo 'loaded before it was asked for' >&2; exit 9; }}
_completion_loader sandpit
complete -p sandpit
declare -F _sandpit
"""
    # No system data dirs: the only place left to find it is the user's.
    out = user.run("bash", "--norc", "--noprofile", "-c", script, env=user.env({"XDG_DATA_DIRS": "/nonexistent"})).stdout
    assert out.splitlines() == ["complete -F _sandpit sandpit", "_sandpit"]
