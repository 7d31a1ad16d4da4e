"""cmake/version.cmake: the version `sandpit --version` prints and the package
carries, from `git describe` in throwaway repositories. Every answer must be a
Debian upstream version, ordered the way the commits are."""
import re
import shutil
import subprocess

import pytest

from conftest import CMAKE, SOURCE_DIR, run

DEBIAN_UPSTREAM = re.compile(r"^[0-9][A-Za-z0-9.+~]*$")


@pytest.fixture
def repo(tmp_path):
    """A git repository with one commit; returns (path, git)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    path = tmp_path / "src"
    path.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}

    def git(*args):
        return run(["git", *args], cwd=path, env=env).stdout.strip()

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "first")
    return path, git


def version_of(source, out):
    run([CMAKE, f"-DSOURCE_DIR={source}", "-DFALLBACK=0.1.0", f"-DOUT_DIR={out}",
         "-P", str(SOURCE_DIR / "cmake" / "version.cmake")])
    version = (out / "version.txt").read_text().strip()
    assert DEBIAN_UPSTREAM.match(version), f"{version!r} is not a Debian upstream version"
    header = (out / "sandpit" / "core" / "version.hpp").read_text()
    assert f'#define SANDPIT_VERSION "{version}"' in header
    return version


def test_before_the_first_tag_the_project_version_with_count_and_hash(repo, tmp_path):
    path, git = repo
    # A hash that starts with a digit must not be taken for a tag.
    while not git("rev-parse", "--short", "HEAD")[0].isdigit():
        git("commit", "-q", "--allow-empty", "-m", "again")
    count, short = git("rev-list", "--count", "HEAD"), git("rev-parse", "--short", "HEAD")
    assert version_of(path, tmp_path / "out") == f"0.1.0+{count}.g{short}"


def test_tags_and_commits_after_them(repo, tmp_path):
    path, git = repo
    git("tag", "v0.2.0")
    assert version_of(path, tmp_path / "out") == "0.2.0"
    git("commit", "-q", "--allow-empty", "-m", "next")
    assert version_of(path, tmp_path / "out") == f"0.2.0+1.g{git('rev-parse', '--short', 'HEAD')}"
    git("tag", "1.0.0-rc1")
    assert version_of(path, tmp_path / "out") == "1.0.0~rc1"
    (path / "file").write_text("x")
    git("add", "file")
    assert version_of(path, tmp_path / "out") == "1.0.0~rc1+dirty"


def test_versions_sort_like_their_commits():
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed")
    ordered = ["0.1.0+9.gabc", "0.1.0+10.gabc", "0.2.0~rc1", "0.2.0", "0.2.0+1.gdef", "0.2.0+1.gdef.dirty", "0.2.0+2.g123"]
    for older, newer in zip(ordered, ordered[1:]):
        assert subprocess.run(["dpkg", "--compare-versions", older, "lt", newer]).returncode == 0, f"{older} < {newer}"


def test_outside_a_checkout_or_inside_another_one_the_project_version(repo, tmp_path):
    path, _ = repo
    plain = tmp_path / "tarball"
    plain.mkdir()
    assert version_of(plain, tmp_path / "out") == "0.1.0"
    nested = path / "vendor" / "sandpit"  # a tarball unpacked inside some other repository
    nested.mkdir(parents=True)
    assert version_of(nested, tmp_path / "out") == "0.1.0"


def test_the_header_is_rewritten_only_when_the_version_changes(repo, tmp_path):
    path, git = repo
    out = tmp_path / "out"
    version_of(path, out)
    header = out / "sandpit" / "core" / "version.hpp"
    before = header.stat().st_mtime_ns
    version_of(path, out)
    assert header.stat().st_mtime_ns == before, "an unchanged version must not touch the header (it would recompile)"
    git("commit", "-q", "--allow-empty", "-m", "next")
    version_of(path, out)
    assert header.stat().st_mtime_ns != before
