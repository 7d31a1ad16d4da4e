"""The man page and the shell completions must keep up with the CLI.

The truth is the built binary: `sandpit --help` names the subcommands and the
global options, `sandpit <cmd> --help` the options of each subcommand. Every
subcommand and every long option must appear in man/sandpit.1 (in the
subcommand's `.SS sandpit <cmd>` section, or for global options in
`.SS Global options`) and must be offered, for the right subcommand, by each
of completions/sandpit.bash, completions/_sandpit and completions/sandpit.fish.
Adding an option without documenting it makes these tests fail and say which
option is missing from which file.
"""
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

SANDPIT = os.environ.get("SANDPIT_BIN") or str(Path(__file__).resolve().parents[2] / "build" / "sandpit")
SOURCE_DIR = Path(os.environ.get("SANDPIT_SOURCE_DIR") or Path(__file__).resolve().parents[2])

GLOBAL = ""  # the scope of options given before the subcommand

# Each documentation file and the kind of parser that reads it.
DOC_FILES = {
    "man/sandpit.1": "man",
    "completions/sandpit.bash": "bash",
    "completions/_sandpit": "zsh",
    "completions/sandpit.fish": "fish",
}

LONG_OPTION = re.compile(r"(?<![\w-])--[A-Za-z0-9][\w-]*")


# --- the CLI as the binary describes it -------------------------------------

def parse_help(text):
    """Parses CLI11 help output: returns (subcommands, long options), in order."""
    subcommands, options = [], []
    section = None
    for line in text.splitlines():
        header = re.match(r"^(\w[\w ]*):\s*$", line)
        if header:
            section = header.group(1).lower()
            continue
        if section == "options":
            # "  -w,--workspace DIR   Workspace ..."; description continuation
            # lines are indented further and never start with '-'.
            m = re.match(r"^ {1,4}(-\S.*?)(?: {2,}|$)", line)
            if m:
                options += [o for o in LONG_OPTION.findall(m.group(1)) if o not in options]
        elif section == "subcommands":
            m = re.match(r"^ {1,4}([A-Za-z][\w-]*)(?: {2,}|$)", line)
            if m:
                subcommands.append(m.group(1))
    return subcommands, options


def run_help(*args):
    proc = subprocess.run([SANDPIT, *args, "--help"], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"})
    assert proc.returncode == 0, f"`sandpit {' '.join(args)} --help` exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def surface():
    """{scope: [long options]}: GLOBAL for `sandpit --help`, then one entry per subcommand."""
    if not os.access(SANDPIT, os.X_OK):
        pytest.fail(f"no sandpit binary at {SANDPIT} (build it, or set SANDPIT_BIN)")
    subcommands, global_options = parse_help(run_help())
    assert subcommands, "found no subcommands in `sandpit --help`"
    assert "--help" in global_options, "found no options in `sandpit --help`"
    result = {GLOBAL: global_options}
    for command in subcommands:
        _, options = parse_help(run_help(command))
        assert "--help" in options, f"found no options in `sandpit {command} --help`"
        result[command] = options
    return result


# --- what each file documents ----------------------------------------------
# Each extractor returns (subcommands, {scope: set of long options}).

def extract_man(text, _subcommands, _path):
    """Subcommands are `.SS sandpit <cmd>` sections; global options live in `.SS Global options`."""
    plain = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", text).replace("\\-", "-").replace("\\(em", " ")
    scopes, commands = {}, []
    scope = None
    for line in plain.splitlines():
        if line.startswith(".SH"):
            scope = None
        elif line.startswith(".SS"):
            title = line[3:].strip().strip('"')
            m = re.match(r"sandpit\s+([A-Za-z][\w-]*)", title)
            if m:
                scope = m.group(1)
                commands.append(scope)
            elif title.lower().startswith("global option"):
                scope = GLOBAL
            else:
                scope = None
        elif scope is not None and not line.startswith('.\\"'):
            scopes.setdefault(scope, set()).update(LONG_OPTION.findall(line))
    return commands, scopes


def extract_bash(text, subcommands, path):
    """Runs the completion function in bash and records what it offers."""
    bash = shutil.which("bash")
    if bash is None:  # fall back to "the option is named somewhere in the file"
        found = set(LONG_OPTION.findall(text))
        return [c for c in subcommands if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text)], \
            {scope: found for scope in [GLOBAL, *subcommands]}
    # Both code paths of the file: plain bash, and with the bash-completion
    # package loaded (_init_completion) when it is installed.
    script = r'''
if [[ -n $BASH_COMPLETION_MAIN ]]; then source "$BASH_COMPLETION_MAIN" || exit 5; fi
source "$1" || exit 3
spec=$(complete -p sandpit 2>/dev/null) || { echo "no 'complete ... sandpit' registered" >&2; exit 4; }
fn=$(sed -n 's/.*-F \([^ ]*\).*/\1/p' <<<"$spec")
ask() {  # ask SCOPE WORD...: complete the last word
    local scope=$1; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
    "$fn" sandpit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    local word; for word in "${COMPREPLY[@]}"; do printf '%s\t%s\n' "$scope" "$word"; done
}
ask :commands sandpit ''
ask '' sandpit --
shift
for command in "$@"; do ask "$command" sandpit "$command" --; done
'''
    main = "/usr/share/bash-completion/bash_completion"
    runs = []
    for mode in ["", main] if os.path.isfile(main) else [""]:
        proc = subprocess.run([bash, "--norc", "--noprofile", "-c", script, "bash", str(path), *subcommands],
                              capture_output=True, text=True, timeout=30, cwd="/",
                              env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent",
                                   "BASH_COMPLETION_MAIN": mode})
        assert proc.returncode == 0, f"{path}: bash could not run the completion ({mode or 'plain bash'}): {proc.stderr}"
        commands, scopes = [], {}
        for line in proc.stdout.splitlines():
            scope, _, word = line.partition("\t")
            if scope == ":commands":
                commands.append(word)
            else:
                scopes.setdefault(scope, set()).update(LONG_OPTION.findall(word))
        runs.append((commands, scopes))
    # What counts is what both code paths offer.
    commands = [c for c in runs[0][0] if all(c in run[0] for run in runs)]
    scopes = {scope: set.intersection(*(run[1].get(scope, set()) for run in runs)) for scope in runs[0][1]}
    return commands, scopes


def extract_zsh(text, _subcommands, _path):
    """Subcommands are listed as 'name:description' and have a case branch `(name)` or `name)`;
    everything outside the branches is the global scope."""
    commands = re.findall(r"""['"]([A-Za-z][\w-]*):[^'"]*['"]""", text)
    scopes = {}
    # A branch ends at the first ";;" with no other branch label before it, so the
    # outer "(command)" branch of a nested case is not taken for a subcommand.
    any_label = r"^[ \t]*\(?[A-Za-z][\w-]*\)[ \t]*$"
    branch = re.compile(r"^[ \t]*\(?([A-Za-z][\w-]*)\)[ \t]*\n((?:(?!" + any_label + r").)*?)^[ \t]*;;",
                        re.M | re.S)
    outside = text
    for m in branch.finditer(text):
        scopes.setdefault(m.group(1), set()).update(LONG_OPTION.findall(m.group(2)))
        outside = outside.replace(m.group(0), "")
    scopes[GLOBAL] = set(LONG_OPTION.findall(outside))
    commands = [c for c in commands if c in scopes]
    return commands, scopes


def extract_fish(text, subcommands, _path):
    """Reads `complete -c sandpit` lines: -n '__fish_seen_subcommand_from CMD...' scopes a line to
    those subcommands; `not __fish_seen_subcommand_from` / `__fish_use_subcommand` to the global
    scope; no condition to every scope. -a words in the global scope are the subcommands."""
    commands, scopes = [], {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("complete "):
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            raise AssertionError(f"cannot parse fish line {line!r}: {e}") from None
        condition, longs, arguments = None, [], []
        i = 1
        while i < len(words):
            word, value = words[i], words[i + 1] if i + 1 < len(words) else ""
            if word in ("-n", "--condition"):
                condition, i = value, i + 1
            elif word in ("-l", "--long-option", "--long"):
                longs.append("--" + value)
                i += 1
            elif word in ("-a", "--arguments"):
                arguments += value.split()
                i += 1
            elif word in ("-c", "--command", "-s", "--short-option", "-o", "--old-option", "-d",
                          "--description", "-w", "--wraps"):
                i += 1
            elif word.startswith("--condition="):
                condition = word.split("=", 1)[1]
            elif word.startswith(("--long-option=", "--long=")):
                longs.append("--" + word.split("=", 1)[1])
            elif word.startswith("--arguments="):
                arguments += word.split("=", 1)[1].split()
            i += 1
        if condition is None:
            targets = [GLOBAL, *subcommands]
        elif re.search(r"not\s+__fish_seen_subcommand_from|__fish_use_subcommand", condition):
            targets = [GLOBAL]
            commands += [a for a in arguments if not a.startswith(("(", "$"))]
        elif "__fish_seen_subcommand_from" in condition:
            # The subcommands named up to the end of that condition ("...from config; and ...").
            targets = [w for w in condition.split("__fish_seen_subcommand_from", 1)[1].split(";")[0].split()
                       if re.fullmatch(r"[A-Za-z][\w-]*", w)]
        else:
            targets = []
        for target in targets:
            scopes.setdefault(target, set()).update(longs)
    return commands, scopes


def documented(path, kind, subcommands):
    extract = {"man": extract_man, "bash": extract_bash, "zsh": extract_zsh, "fish": extract_fish}[kind]
    return extract(Path(path).read_text(), subcommands, path)


def missing_from(path, kind, surface, label=None):
    """The helper behind the tests: one message per subcommand or option of `surface`
    ({scope: [long options]}) that the file at `path` does not document."""
    label = label or str(path)
    subcommands = [s for s in surface if s != GLOBAL]
    commands, scopes = documented(path, kind, subcommands)
    messages = []
    for command in subcommands:
        if command not in commands:
            messages.append(f"{label}: subcommand '{command}' (from `sandpit --help`) is missing")
    for scope, options in surface.items():
        where = "sandpit" if scope == GLOBAL else f"sandpit {scope}"
        for option in options:
            found = option in scopes.get(scope, set())
            # Options of the top level (--help) may be documented once, globally.
            found = found or (option in surface[GLOBAL] and option in scopes.get(GLOBAL, set()))
            if not found:
                messages.append(f"{label}: option {option} of `{where}` (from `{where} --help`) is missing")
    return messages


def stale_in(path, kind, surface, label=None):
    """Options a completion file offers for a subcommand that its --help does not list."""
    label = label or str(path)
    subcommands = [s for s in surface if s != GLOBAL]
    _, scopes = documented(path, kind, subcommands)
    messages = []
    for scope, offered in scopes.items():
        if scope not in surface:
            messages.append(f"{label}: completes subcommand '{scope}', which `sandpit --help` does not list")
            continue
        where = "sandpit" if scope == GLOBAL else f"sandpit {scope}"
        for option in sorted(offered - set(surface[scope]) - set(surface[GLOBAL])):
            messages.append(f"{label}: offers {option} for `{where}`, which `{where} --help` does not list")
    return messages


# --- the tests --------------------------------------------------------------

@pytest.mark.parametrize("relpath", list(DOC_FILES))
def test_every_subcommand_and_option_is_documented(surface, relpath):
    path = SOURCE_DIR / relpath
    assert path.is_file(), f"{relpath} does not exist under {SOURCE_DIR}"
    missing = missing_from(path, DOC_FILES[relpath], surface, label=relpath)
    assert not missing, "undocumented CLI surface:\n  " + "\n  ".join(missing)


@pytest.mark.parametrize("relpath", [p for p, kind in DOC_FILES.items() if kind != "man"])
def test_completions_offer_no_removed_options(surface, relpath):
    stale = stale_in(SOURCE_DIR / relpath, DOC_FILES[relpath], surface, label=relpath)
    assert not stale, "completion offers what the CLI no longer has:\n  " + "\n  ".join(stale)


def test_man_page_renders_without_warnings():
    man = shutil.which("man")
    if man is None:
        pytest.skip("man is not installed (apt-get install man-db groff-base)")
    env = dict(os.environ, MANWIDTH="80", LANG="C.UTF-8", MAN_KEEP_FORMATTING="", MANPAGER="cat", PAGER="cat")
    page = str(SOURCE_DIR / "man" / "sandpit.1")
    proc = subprocess.run([man, "--warnings", "-l", page], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, f"man -l {page} exited {proc.returncode}: {proc.stderr}"
    assert proc.stderr == "", f"man --warnings -l {page} warned:\n{proc.stderr}"
    assert "SANDPIT" in proc.stdout and "EXIT STATUS" in proc.stdout


def test_man_page_passes_groff_ww():
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed (apt-get install groff-base)")
    page = str(SOURCE_DIR / "man" / "sandpit.1")
    proc = subprocess.run([groff, "-man", "-ww", "-z", page], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", f"groff -man -ww -z {page}:\n{proc.stderr}"


# --- the detector itself must catch drift -------------------------------------

def _remove_option(text, kind, option):
    """Deletes every mention of `option` from a copy of a documentation file."""
    name = option[2:]
    if kind == "man":
        return re.sub(rf"(\\-\\-|--){re.escape(name)}(?![\w-])", "", text)
    if kind == "fish":
        return re.sub(rf"\s(-l|--long-option|--long)[ =]{re.escape(name)}(?![\w-])", "", text)
    return re.sub(rf"(?<![\w-]){re.escape(option)}(?![\w-])", "", text)


@pytest.mark.parametrize("relpath", list(DOC_FILES))
def test_detector_reports_a_deleted_option(surface, relpath, tmp_path):
    """A copy of the file without --fresh must be reported, naming --fresh and the file."""
    kind = DOC_FILES[relpath]
    users = [scope for scope, options in surface.items() if "--fresh" in options]
    assert users, "the self-test needs an option that exists: `sandpit exec --help` no longer lists --fresh"
    original = (SOURCE_DIR / relpath).read_text()
    copy = tmp_path / Path(relpath).name
    copy.write_text(original)
    before = set(missing_from(copy, kind, surface, label=relpath))  # empty unless the real file drifted

    broken = _remove_option(original, kind, "--fresh")
    assert broken != original, f"the self-test could not delete --fresh from {relpath}"
    copy.write_text(broken)
    missing = set(missing_from(copy, kind, surface, label=relpath)) - before
    expected = {f"{relpath}: option --fresh of `sandpit {scope}` (from `sandpit {scope} --help`) is missing"
                for scope in users} - before
    assert expected, f"{relpath} already lacks --fresh everywhere; see the test above"
    assert missing == expected, f"deleting --fresh from a copy of {relpath}: expected {sorted(expected)}, got {sorted(missing)}"


@pytest.mark.parametrize("relpath", [p for p, kind in DOC_FILES.items() if kind != "man"])
def test_detector_reports_a_stale_option(surface, relpath, tmp_path):
    """A copy of a completion file that still offers a removed option is reported."""
    kind = DOC_FILES[relpath]
    text = (SOURCE_DIR / relpath).read_text()
    stale = {
        "bash": lambda t: t.replace("--fresh", "--fresh --retired", 1),
        "zsh": lambda t: t.replace("'--fresh[", "'--retired[gone]' \\\n            '--fresh[", 1),
        "fish": lambda t: t.replace("-l fresh", "-l fresh\ncomplete -c sandpit -n '__fish_seen_subcommand_from exec' -l retired", 1),
    }[kind](text)
    assert stale != text, f"the self-test could not add --retired to {relpath}"
    copy = tmp_path / Path(relpath).name
    copy.write_text(stale)
    messages = stale_in(copy, kind, surface, label=relpath)
    assert any(m.startswith(f"{relpath}: offers --retired for `sandpit ") for m in messages), messages


@pytest.mark.parametrize("relpath", list(DOC_FILES))
def test_detector_reports_a_new_option(surface, relpath):
    """An option added to the CLI but to no file is reported for every file."""
    grown = {scope: list(options) for scope, options in surface.items()}
    command = next(scope for scope in grown if scope != GLOBAL)
    grown[command].append("--frobnicate")
    grown["frob"] = ["--help", "--frob-level"]
    missing = missing_from(SOURCE_DIR / relpath, DOC_FILES[relpath], grown, label=relpath)
    assert f"{relpath}: option --frobnicate of `sandpit {command}` (from `sandpit {command} --help`) is missing" in missing
    assert f"{relpath}: subcommand 'frob' (from `sandpit --help`) is missing" in missing
    assert f"{relpath}: option --frob-level of `sandpit frob` (from `sandpit frob --help`) is missing" in missing


def test_parse_help_reads_cli11_output():
    text = """Run things
Usage: sandpit exec [OPTIONS] [file]

Positionals:
  file FILE                   A file to run, or - for stdin (the default)

Options:
  -h,--help                   Print this help message and exit
  -w,--workspace DIR          Workspace directory (default: $SANDPIT_WORKSPACE or .)
  --a-very-long-option-name-that-pushes-the-description VALUE
                              Wrapped, and mentions --not-an-option here

Subcommands:
  exec                        Run code
  doctor                      Check
"""
    assert parse_help(text) == (["exec", "doctor"], ["--help", "--workspace",
                                                     "--a-very-long-option-name-that-pushes-the-description"])
