"""upload, download and /persist: round trips, every refusal, races with running code, quotas, the volume."""
import hashlib
import json
import os
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import SANDPIT, SUCCESS, CODE_FAILED, USAGE, skip_unless


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_binary_file_and_tree_round_trip_with_checksums(sp, tmp_path):
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "blob.bin").write_bytes(os.urandom(300_000))
    (src / "sub" / "a.txt").write_text("a\n")
    (src / "sub" / "deeper" / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (src / "sub" / "deeper" / "run.sh").chmod(0o755)
    up = json.loads(sp.run("upload", "-w", str(sp.workspace), "-r", str(src), "data", "--json", check=SUCCESS).stdout)
    assert {f["sandbox"]: f["sha256"] for f in up["files"]} == {
        "/workspace/data/blob.bin": sha(src / "blob.bin"),
        "/workspace/data/sub/a.txt": sha(src / "sub" / "a.txt"),
        "/workspace/data/sub/deeper/run.sh": sha(src / "sub" / "deeper" / "run.sh")}
    assert up["bytes"] == 300_000 + 2 + 19
    inside = sp.exec("import hashlib; print(hashlib.sha256(open('data/blob.bin','rb').read()).hexdigest())", check=SUCCESS)
    assert inside.stdout.strip() == sha(src / "blob.bin")
    assert sp.shell("/workspace/data/sub/deeper/run.sh", check=SUCCESS).stdout == "ran\n"
    out = tmp_path / "out"
    down = json.loads(sp.run("download", "-w", str(sp.workspace), "-r", "data", str(out), "--json", check=SUCCESS).stdout)
    assert len(down["files"]) == 3
    for name in ("blob.bin", "sub/a.txt", "sub/deeper/run.sh"):
        assert sha(out / name) == sha(src / name)
    # A single file goes to ./<name> by default, and is never overwritten without --force.
    sp.run("download", "-w", str(sp.workspace), "data/sub/a.txt", cwd=tmp_path, check=SUCCESS)
    assert (tmp_path / "a.txt").read_text() == "a\n"
    proc = sp.run("download", "-w", str(sp.workspace), "data/sub/a.txt", cwd=tmp_path, check=USAGE)
    assert proc.stderr == f"sandpit: download a.txt: exists (use --force to replace it)\n"
    (tmp_path / "a.txt").write_text("old")
    sp.run("download", "-w", str(sp.workspace), "-f", "data/sub/a.txt", cwd=tmp_path, check=SUCCESS)
    assert (tmp_path / "a.txt").read_text() == "a\n"


def test_transfers_are_audited_with_paths_bytes_and_sha256(sp, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("1,2\n")
    sp.run("upload", "-w", str(sp.workspace), str(f), check=SUCCESS)
    sp.run("download", "-w", str(sp.workspace), "../x.csv", cwd=tmp_path, check=USAGE)
    up, refused = sp.audit_records()[-2:]
    assert up["command"] == "upload" and up["success"] is True
    assert up["files"] == [{"host": str(f), "sandbox": "/workspace/x.csv", "bytes": 4, "sha256": sha(f)}]
    assert up["from"] == str(f) and up["to"] == "/workspace"
    assert refused["command"] == "download" and refused["success"] is False
    assert refused["error"] == "../x.csv: leaves /workspace ('..' above its root)"


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "/workspace/../etc", "/persist/../../x", "/"])
def test_paths_that_leave_the_sandbox_are_refused(sp, tmp_path, path):
    f = tmp_path / "f"
    f.write_text("x")
    for args in (("upload", str(f), path), ("download", path, str(tmp_path / "out"))):
        proc = sp.run(args[0], "-w", str(sp.workspace), *args[1:], check=USAGE)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"sandpit: {path}: ")
    assert not (tmp_path / "out").exists()


def test_symlinks_fifos_and_escapes_planted_by_code_are_refused(sp, tmp_path):
    marker = f"sandpit-escape-{uuid.uuid4().hex}"
    sp.shell("mkdir -p d/sub && echo ok > d/sub/f && ln -s /etc/passwd abs && ln -s ../../../../../../etc rel "
             "&& ln -s /etc d/etc_link && mkfifo fifo && mkfifo d/fifo && ln -s / d/root", check=SUCCESS)
    for name, why in [("abs", "is a symbolic link: refused"), ("rel/passwd", "goes through a symbolic link: refused"),
                      ("fifo", "is a FIFO: refused, not opened")]:
        proc = sp.run("download", "-w", str(sp.workspace), name, str(tmp_path / "got"), check=USAGE, timeout=20)
        assert why in proc.stderr
    assert not (tmp_path / "got").exists()
    # Inside a recursive download: skipped with a warning, the rest copied.
    proc = sp.run("download", "-w", str(sp.workspace), "-r", "d", str(tmp_path / "tree"), check=SUCCESS, timeout=20)
    assert (tmp_path / "tree" / "sub" / "f").read_text() == "ok\n"
    assert sorted(p.name for p in (tmp_path / "tree").iterdir()) == ["sub"]
    for name in ("etc_link", "fifo", "root"):
        assert f"sandpit: skipped /workspace/d/{name}: " in proc.stderr
    # Upload through a planted symlink: the symlink is replaced, never written through.
    src = tmp_path / "src.txt"
    src.write_text("mine")
    sp.shell(f"ln -s /tmp/{marker} planted", check=SUCCESS)
    sp.run("upload", "-w", str(sp.workspace), str(src), "planted", check=SUCCESS)
    assert not Path(f"/tmp/{marker}").exists()
    assert sp.shell("test -L planted || cat planted", check=SUCCESS).stdout == "mine"
    # A destination folder that is a symlink is refused.
    proc = sp.run("upload", "-w", str(sp.workspace), str(src), "d/root/" + marker, check=USAGE)
    assert "symbolic link" in proc.stderr
    assert not Path("/" + marker).exists()


def test_a_symlink_swapped_in_while_copying_is_never_followed(sp, tmp_path):
    marker = f"sandpit-race-{uuid.uuid4().hex}"
    # Code that keeps running in the session and swaps a folder for a symlink to "/" as fast as it can.
    sp.exec("import subprocess\nsubprocess.Popen(['/bin/bash', '-c', "
            "'while true; do rm -rf t; mkdir -p t/in; echo data > t/in/f; rm -rf t; ln -s / t; done'])", check=SUCCESS)
    src = tmp_path / "payload"
    src.write_text("payload")
    for i in range(40):
        out = tmp_path / f"o{i}"
        sp.run("download", "-w", str(sp.workspace), "-r", "t", str(out), timeout=30)
        if out.exists():
            assert {p.name for p in out.rglob("*")} <= {"in", "f", marker}, list(out.rglob("*"))
        sp.run("upload", "-w", str(sp.workspace), str(src), f"t/in/{marker}", timeout=30)
    assert not Path(f"/in/{marker}").exists() and not Path(f"/{marker}").exists()
    sp.run("session", "reset", "-w", str(sp.workspace), check=SUCCESS)


def test_devices_and_sockets_in_the_workspace_are_refused_unopened(sp, tmp_path):
    skip_unless(os.geteuid() == 0, "needs root to put a device node where the workspace lives")
    import socket
    sp.exec("pass", check=SUCCESS)
    sp.stop()
    # Place them from the host, the way another process on the machine could.
    image = next((sp.state / "sandpit" / "workspaces").glob("*/workspace.img"), None)
    files = next((sp.state / "sandpit" / "workspaces").glob("*/files"))
    if image is not None:
        subprocess.run(["/sbin/debugfs", "-w", "-R", "mknod null c 1 3", str(image)], check=True, capture_output=True)
    else:
        os.mknod(files / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    proc = sp.run("download", "-w", str(sp.workspace), "null", str(tmp_path / "n"), check=USAGE)
    assert "is a device: refused, not opened" in proc.stderr
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "sock"))
    # A socket inside a tree being uploaded from the host is skipped too.
    (tmp_path / "up").mkdir()
    os.rename(tmp_path / "sock", tmp_path / "up" / "sock")
    (tmp_path / "up" / "ok").write_text("ok")
    proc = sp.run("upload", "-w", str(sp.workspace), "-r", str(tmp_path / "up"), check=SUCCESS)
    assert "skipped" in proc.stderr and "a socket" in proc.stderr


def test_quotas_hold_against_fast_writers_and_the_host_is_unaffected(sp, tmp_path):
    skip_unless(os.geteuid() == 0, "quotas use loop-mounted images, which need root")
    sp.configure('[limits]\nworkspace = "32MiB"\npersist = "16MiB"\nfile_size = "1GiB"\n[policy]\nmode = "off"\n')
    sp.exec("open('keep.txt', 'w').write('precious')", check=SUCCESS)
    code = ("import os\nfor path in ('big', '/persist/big'):\n"
            "    try:\n        with open(path, 'wb') as f:\n"
            "            while True: f.write(b'x' * (1 << 20))\n"
            "    except OSError as e: print(path, e.errno == 28)\n    os.remove(path)\n"
            "print(open('keep.txt').read())")
    assert sp.exec(code, check=SUCCESS).stdout == "big True\n/persist/big True\nprecious\n"
    proc = sp.exec("open('fill', 'wb').write(b'x' * (40 << 20))", check=CODE_FAILED)
    assert "No space left on device" in proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("sandpit: /workspace is full (limits.workspace = 32MiB, ") and last.endswith(
        " left): writes there fail with ENOSPC until files are removed")
    sp.shell("rm fill", check=SUCCESS)
    image = next((sp.state / "sandpit" / "workspaces").glob("*/workspace.img"))
    assert image.stat().st_size == 32 << 20
    assert image.stat().st_blocks * 512 <= 32 << 20
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(40 << 20)
    proc = sp.run("upload", "-w", str(sp.workspace), str(big), check=CODE_FAILED)
    assert proc.stderr == f"sandpit: upload {big}: no space left in /workspace (its quota is full; nothing was replaced)\n"
    assert sp.shell("ls; cat keep.txt", check=SUCCESS).stdout == "keep.txt\nprecious"


def test_a_raised_workspace_limit_grows_the_image_and_keeps_its_files(sp):
    skip_unless(os.geteuid() == 0, "quotas are enforced only as root")
    sp.configure('[limits]\nworkspace = "32MiB"\n')
    sp.exec("open('keep.txt', 'w').write('precious')", check=SUCCESS)
    proc = sp.exec("open('big', 'wb').write(b'x' * (40 << 20))")
    assert proc.returncode == CODE_FAILED and "No space left on device" in proc.stderr
    sp.run("session", "stop", "-w", str(sp.workspace), check=SUCCESS)
    sp.configure('[limits]\nworkspace = "96MiB"\n')
    sp.exec("import os; os.remove('big') if os.path.exists('big') else None; open('big', 'wb').write(b'x' * (60 << 20))", check=SUCCESS)
    size = sp.shell("df -k --output=size /workspace | tail -1", check=SUCCESS).stdout
    assert 80 << 10 < int(size) <= 96 << 10, size
    assert sp.shell("cat keep.txt", check=SUCCESS).stdout == "precious"
    image = next((sp.state / "sandpit" / "workspaces").glob("*/workspace.img"))
    assert image.stat().st_size == 96 << 20


def test_persist_survives_reset_and_spans_workspaces(sp, tmp_path):
    sp.exec("open('/persist/model.txt', 'w').write('weights'); open('scratch.txt', 'w').write('x')", check=SUCCESS)
    sp.run("session", "reset", "-w", str(sp.workspace), check=SUCCESS)
    assert sp.shell("ls /workspace; cat /persist/model.txt", check=SUCCESS).stdout == "weights"
    other = tmp_path / "other"
    other.mkdir()
    proc = sp.run("exec", "-w", str(other), "-c", "print(open('/persist/model.txt').read())", check=SUCCESS)
    assert proc.stdout == "weights\n"
    sp.run("session", "stop", "-w", str(other), check=SUCCESS)


def test_files_survive_stop_idle_exit_and_a_daemon_crash(sp):
    sp.configure('[session]\nidle_timeout = "1s"\n')
    sp.exec("open('a.txt', 'w').write('1')", check=SUCCESS)
    sp.run("session", "stop", "-w", str(sp.workspace), check=SUCCESS)
    sp.exec("open('b.txt', 'w').write('2')", check=SUCCESS)
    info = json.loads(sp.run("session", "info", "-w", str(sp.workspace), "--json", check=SUCCESS).stdout)
    os.kill(info["pid"], 9)
    time.sleep(0.5)
    sp.exec("open('c.txt', 'w').write('3')", check=SUCCESS)
    info = json.loads(sp.run("session", "info", "-w", str(sp.workspace), "--json", check=SUCCESS).stdout)
    for _ in range(50):  # the idle timeout ends the daemon by itself
        if not Path(f"/proc/{info['pid']}").exists():
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{info['pid']}").exists(), "the daemon did not exit when idle"
    assert sp.shell("cat a.txt b.txt c.txt", check=SUCCESS).stdout == "123"


def test_the_per_transfer_cap_refuses_more_and_loses_nothing(sp, tmp_path):
    sp.configure('[limits]\ntransfer = "4KiB"\n')
    small, big = tmp_path / "small.bin", tmp_path / "big.bin"
    small.write_bytes(os.urandom(4096))
    big.write_bytes(os.urandom(4097))
    sp.run("upload", "-w", str(sp.workspace), str(small), "kept.bin", check=SUCCESS)
    proc = sp.run("upload", "-w", str(sp.workspace), str(big), "kept.bin")
    assert proc.returncode != SUCCESS and "limits.transfer" in proc.stderr, proc.stderr
    assert proc.stderr.startswith("sandpit: ") and proc.stderr.count("\n") == 1
    # The file already there is untouched, and a download is held to the same cap.
    inside = sp.exec("import hashlib; print(hashlib.sha256(open('kept.bin','rb').read()).hexdigest())", check=SUCCESS)
    assert inside.stdout.strip() == sha(small)
    sp.exec("open('large.bin', 'wb').write(b'x' * 5000)", check=SUCCESS)
    proc = sp.run("download", "-w", str(sp.workspace), "large.bin", str(tmp_path / "large.bin"))
    assert proc.returncode != SUCCESS and "limits.transfer" in proc.stderr, proc.stderr
    assert not (tmp_path / "large.bin").exists()
    records = [r for r in sp.audit_records() if r["command"] in ("upload", "download")]
    assert [r["success"] for r in records] == [True, False, False]


def test_volume_export_import_round_trip(sp, tmp_path):
    sp.exec("import os\nos.makedirs('/persist/m/n', exist_ok=True)\nopen('/persist/m/n/w.bin', 'wb').write(bytes(range(256)) * 100)",
            check=SUCCESS)
    tar = tmp_path / "vol.tar"
    sp.run("volume", "export", str(tar), check=SUCCESS)
    assert sp.run("volume", "export", str(tar), check=USAGE).stderr == f"sandpit: export {tar}: exists (use --force to replace it)\n"
    sp.shell("rm -rf /persist/m", check=SUCCESS)
    info = json.loads(sp.run("volume", "info", "--json", check=SUCCESS).stdout)
    assert info["files"] == 0
    sp.run("volume", "import", str(tar), check=SUCCESS)
    out = sp.exec("import hashlib; print(hashlib.sha256(open('/persist/m/n/w.bin','rb').read()).hexdigest())", check=SUCCESS)
    assert out.stdout.strip() == hashlib.sha256(bytes(range(256)) * 100).hexdigest()
    info = json.loads(sp.run("volume", "info", "--json", check=SUCCESS).stdout)
    assert info["files"] == 1 and info["bytes"] == 25600
    commands = [r["command"] for r in sp.audit_records()]
    assert commands.count("export") == 2 and commands.count("import") == 1
