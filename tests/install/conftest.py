"""Shared helpers for the install tests: where the build is, what it should
install, and a user with a fresh home who runs commands the way a shell would."""
import json
import os
import subprocess
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("SANDPIT_SOURCE_DIR") or Path(__file__).resolve().parents[2])
BUILD_DIR = Path(os.environ.get("SANDPIT_BUILD_DIR") or SOURCE_DIR / "build")
CMAKE = os.environ.get("SANDPIT_CMAKE") or "cmake"
CPACK = os.environ.get("SANDPIT_CPACK") or "cpack"


def skip_unless(condition, reason):
    """Skips when `condition` is false, except in CI (SANDPIT_NO_SKIP=1), where
    an install test that cannot run must fail the run instead of hiding
    (STYLE.md; the same rule as tests/e2e/conftest.py)."""
    if condition:
        return
    if os.environ.get("SANDPIT_NO_SKIP") == "1":
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def built_version():
    """The version the build compiled in (cmake/version.cmake writes it)."""
    return (BUILD_DIR / "generated" / "version.txt").read_text().strip()


def expected_files(prefix="/usr/local"):
    """{path under the install prefix: the file it must be a copy of}. zsh's
    folder depends on the prefix (cmake/install.cmake)."""
    zsh = "vendor-completions" if str(prefix).rstrip("/").endswith("/usr") else "site-functions"
    files = {
        "bin/sandpit": BUILD_DIR / "sandpit",
        "share/man/man1/sandpit.1": SOURCE_DIR / "man" / "sandpit.1",
        "share/bash-completion/completions/sandpit": SOURCE_DIR / "completions" / "sandpit.bash",
        f"share/zsh/{zsh}/_sandpit": SOURCE_DIR / "completions" / "_sandpit",
        "share/fish/vendor_completions.d/sandpit.fish": SOURCE_DIR / "completions" / "sandpit.fish",
        "share/doc/sandpit/README.md": SOURCE_DIR / "README.md",
        "share/doc/sandpit/config.example.toml": SOURCE_DIR / "config.example.toml",
    }
    for doc in sorted((SOURCE_DIR / "docs").glob("*.md")):
        files[f"share/doc/sandpit/docs/{doc.name}"] = doc
    return files


def run(command, *, check=0, timeout=120, **kw):
    """Runs `command` (a list); asserts its exit status unless check is None."""
    proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=timeout, **kw)
    if check is not None:
        assert proc.returncode == check, (f"`{' '.join(map(str, command))}` exited {proc.returncode}, not {check}\n"
                                          f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


class User:
    """Someone with a fresh home and a stock shell environment: no XDG variables,
    no SANDPIT_* variables, PATH as given, working in a folder outside the checkout."""

    def __init__(self, root: Path, path="/usr/bin:/bin"):
        self.home = root / "home"
        self.cwd = root / "elsewhere"
        for d in (self.home, self.cwd):
            d.mkdir(parents=True, exist_ok=True)
        self.path = path
        assert SOURCE_DIR not in self.cwd.resolve().parents, "the test must run outside the checkout"

    def env(self, extra=None):
        env = {"PATH": self.path, "HOME": str(self.home), "LANG": "C.UTF-8"}
        env.update(extra or {})
        return env

    def run(self, *command, **kw):
        """Runs a command as this user would type it (looked up on PATH)."""
        kw.setdefault("env", self.env())
        kw.setdefault("cwd", self.cwd)
        return run(list(command), **kw)

    def stop_sessions(self, sandpit="sandpit"):
        """Stops every session daemon this user started; nothing may outlive a test."""
        listed = self.run(sandpit, "session", "list", "--json", check=None, timeout=30)
        if listed.returncode != 0:
            return
        for session in json.loads(listed.stdout or "[]"):
            self.run(sandpit, "session", "stop", "-w", session["workspace"], check=None, timeout=30)
