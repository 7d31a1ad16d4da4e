"""Every limit is proven by hitting it: timeout, output, memory, pids, file size, open files, /tmp, CPU."""
import time

from conftest import CODE_FAILED, TIMED_OUT, has_cgroup_limits, host_processes_matching, skip_unless


def test_timeout_stops_a_busy_loop(sp):
    start = time.monotonic()
    proc, result = sp.exec_json("while True: pass", "--timeout", "1500ms", check=TIMED_OUT)
    assert time.monotonic() - start < 10
    assert result["timed_out"] is True and result["success"] is False
    assert result["error"]["name"] == "Timeout" and "1500ms" in result["error"]["value"]


def test_timeout_default_comes_from_config(sp):
    sp.configure('[limits]\ntimeout = "1s"\n')
    start = time.monotonic()
    proc = sp.shell("sleep 30", check=TIMED_OUT)
    assert time.monotonic() - start < 10
    assert proc.stderr == "sandpit: timed out: the execution exceeded the 1s timeout\n"


def test_timeout_kills_the_whole_tree_including_setsid_daemons(sp):
    # Background children, a process group of their own, and a double-forked daemon.
    code = ("sleep 4241 & sleep 4242 & setsid sleep 4243 & "
            "(setsid bash -c 'sleep 4244' &) ; wait")
    sp.shell(code, "--fresh", "--timeout", "1s", check=TIMED_OUT)
    time.sleep(0.2)
    for marker in ("sleep 4241", "sleep 4242", "sleep 4243", "sleep 4244"):
        assert host_processes_matching(marker) == [], f"{marker} outlived its execution"


def test_background_processes_die_with_a_fresh_run(sp):
    sp.shell("(setsid sleep 4245 &); echo started", "--fresh", check=0)
    time.sleep(0.2)
    assert host_processes_matching("sleep 4245") == []


def test_output_cap_stops_the_run_and_marks_truncation(sp):
    sp.configure('[limits]\noutput = "64KiB"\n')
    start = time.monotonic()
    proc, result = sp.exec_json("import sys\nwhile True: sys.stdout.write('x' * 4096)", check=CODE_FAILED)
    assert time.monotonic() - start < 10
    assert result["stdout_truncated"] is True and result["stderr_truncated"] is False
    assert len(result["stdout"]) == 64 * 1024
    assert result["error"]["name"] == "OutputLimitExceeded"


def test_output_cap_applies_to_stderr_too(sp):
    sp.configure('[limits]\noutput = "16KiB"\n')
    proc, result = sp.exec_json("yes err >&2", language="bash", check=CODE_FAILED)
    assert result["stderr_truncated"] is True and len(result["stderr"]) == 16 * 1024


def test_memory_limit_is_hit(sp):
    skip_unless(has_cgroup_limits(), "no memory cgroup for the jail on this host (rlimits only)")
    sp.configure('[limits]\nmemory = "96MiB"\n')
    proc, result = sp.exec_json("b = bytearray(400 * 1024 * 1024)\nb[::4096] = b'x' * len(b[::4096])", check=CODE_FAILED)
    assert result["error"]["name"] in ("MemoryError", "OutOfMemory"), result["error"]


def test_memory_limit_kills_a_growing_process(sp):
    skip_unless(has_cgroup_limits(), "no memory cgroup for the jail on this host (rlimits only)")
    sp.configure('[limits]\nmemory = "64MiB"\n')
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(8 * 1024 * 1024))"
    proc, result = sp.exec_json(code, "--timeout", "20s", check=CODE_FAILED)
    assert result["error"]["name"] in ("MemoryError", "OutOfMemory"), result["error"]
    assert result["timed_out"] is False


def test_pids_limit_is_hit(sp):
    skip_unless(has_cgroup_limits(), "no pids cgroup for the jail on this host (RLIMIT_NPROC only)")
    sp.configure("[limits]\npids = 24\n")
    code = ("import subprocess\nprocs = []\ntry:\n    for _ in range(100):\n"
            "        procs.append(subprocess.Popen(['sleep', '30']))\n"
            "except OSError as e:\n    print('stopped at', len(procs), e.errno)\n")
    proc, result = sp.exec_json(code, "--timeout", "20s", check=0)
    words = result["stdout"].split()
    assert words[:2] == ["stopped", "at"], result
    assert int(words[2]) < 24 and int(words[3]) == 11  # EAGAIN


def test_fork_bomb_is_contained(sp):
    sp.configure('[limits]\npids = 64\ntimeout = "3s"\n')
    start = time.monotonic()
    proc = sp.shell("bomb() { bomb | bomb & }; bomb; sleep 10")
    assert proc.returncode in (CODE_FAILED, TIMED_OUT)
    assert time.monotonic() - start < 20
    assert sp.exec("print('still fine')", check=0).stdout == "still fine\n"


def test_file_size_limit(sp):
    sp.configure('[limits]\nfile_size = "1MiB"\n')
    code = "try:\n    open('/tmp/big', 'wb').write(b'x' * 2 * 1024 * 1024)\nexcept OSError as e:\n    print(e.errno)"
    assert sp.exec(code, check=0).stdout == "27\n"  # EFBIG


def test_open_files_limit(sp):
    sp.configure("[limits]\nopen_files = 32\n")
    code = "fs = []\ntry:\n    while True: fs.append(open('/dev/null'))\nexcept OSError as e:\n    print(e.errno, len(fs) < 32)"
    assert sp.exec(code, check=0).stdout == "24 True\n"  # EMFILE


def test_tmp_size_limit(sp):
    sp.configure('[limits]\ntmp = "4MiB"\n')
    code = "try:\n    open('/tmp/fill', 'wb').write(b'x' * 8 * 1024 * 1024)\nexcept OSError as e:\n    print(e.errno)"
    assert sp.exec(code, check=0).stdout == "28\n"  # ENOSPC


def test_cpu_limit_confines_spinning_processes(sp):
    skip_unless(has_cgroup_limits(), "no cpu cgroup for the jail on this host")
    sp.configure("[limits]\ncpu = 0.5\n")
    code = ("import os, time\npids = []\nfor _ in range(2):\n    pid = os.fork()\n    if pid == 0:\n"
            "        end = time.time() + 2\n        while time.time() < end: pass\n        os._exit(0)\n"
            "    pids.append(pid)\nfor pid in pids: os.waitpid(pid, 0)\n"
            "print(round(os.times().children_user + os.times().children_system, 2))")
    used = float(sp.exec(code, check=0).stdout)
    assert used < 1.5, f"2 spinners for 2 s used {used} s of CPU under a 0.5-core limit"
