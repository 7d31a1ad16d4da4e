# sandpit's Python template, part 2 of 2 (after python_kernel_entry.py; docs/ARCHITECTURE.md,
# "Templates"): one process per user and pool fingerprint, outside every jail, that imports
# languages.python.preload once and forks each new Python kernel from itself, so kernels start with the
# data stack imported and share its pages copy-on-write.
#
# Started by the pool filler as `python3 -c <loader>`: the loader read both parts from fd 4; the settings
# follow on fd 4 as one JSON line, and "ready" goes back on fd 4 once the preload is done. fd 3 is the
# listening socket. Each connection asks for one kernel: one message with a JSON request and the fds
#   [pidfd of the jail's init, cgroup files to write "0" to..., stdin, stdout, stderr, control]
# and gets {"op": "spawned", "pid": <pid in the jail>, "host_pid": <pid>} (or "spawn_failed"), then
# {"op": "exited", "status": <wait status>} when the kernel ends. The template never sees a kernel's
# environment or code: they go from the session straight to the kernel on its control fd.


def _preload(names):
    import importlib, io
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as e:
            print(f"sandpit template: preload {name}: {type(e).__name__}: {e}", file=sys.stderr)
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        figure = plt.figure()
        plt.plot([0, 1], [0, 1])
        figure.savefig(io.BytesIO(), format="png")  # fonts, the Agg renderer and the PNG encoder, once
        plt.close(figure)


class _SpareChild(BaseException):
    """Raised in a freshly forked spare: it unwinds the template's frames (and what they hold: sockets,
    other sessions' kernels) before the spare does anything. Not an Exception: nothing catches it on the way."""

    def __init__(self, fd):
        super().__init__()
        self.fd = fd


# Seconds a kernel may take from the request to "ok": it can be stopped (SIGSTOP) by code in its jail
# from the moment it exists, and must not hold the template, and every other session, with it.
_SPAWN_DEADLINE = 5.0


def _serve(settings):
    listener = socket.socket(fileno=3)
    listener.setblocking(False)
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    kernels = {}  # pidfd -> (host pid, connection)
    spare = _Spare()
    idle_since = _now()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    while True:
        if stopping and listener is not None:
            poller.unregister(listener)
            listener.close()
            listener = None
        if listener is None and not kernels:
            spare.discard()
            return _log("stopped")
        if not kernels and _now() - idle_since > settings["idle_seconds"]:
            spare.discard()
            return _log("idle")
        # socket.new first: the filler renames it to socket once we are ready, and in this order no moment
        # of that rename reads as neither.
        if listener is not None and not os.path.exists("socket.new") and not os.path.exists("socket"):
            _log("its socket is gone (drained): no new kernels")
            stopping.append(1)
            continue
        if listener is not None and not _same_binary(settings["binary"]):
            _log("the sandpit binary that started it was replaced or removed: no new kernels")
            stopping.append(1)
            continue
        _reap_strays(kernels, spare)
        for fd, _ in poller.poll(1000):
            if listener is not None and fd == listener.fileno():
                try:
                    conn, _ = listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                used, spare = spare, None
                t0 = _now_ns()
                try:
                    entry = _spawn(conn, used)
                except Exception as e:  # never the template down, and every session's kernels with it
                    _log(f"a request failed: {type(e).__name__}: {e}")
                    conn.close()
                    entry = None
                t1 = _now_ns()
                if entry is not None:
                    kernels[entry[0]] = entry[1:]
                    poller.register(entry[0], select.POLLIN)
                # After the answer: the next spare, and the used one's end (it has reported, or failed).
                used.discard()
                spare = _Spare()
                if os.environ.get("SANDPIT_TEMPLATE_TRACE"):
                    _log(f"spawn {(t1 - t0) / 1e6:.2f} ms, spare and reap {(_now_ns() - t1) / 1e6:.2f} ms")
            elif fd in kernels:
                host_pid, conn = kernels.pop(fd)
                poller.unregister(fd)
                _, status = os.waitpid(host_pid, 0)  # its pidfd is readable: it has exited
                os.close(fd)
                try:
                    conn.sendall(json.dumps({"op": "exited", "status": status}).encode() + b"\n")
                except OSError:
                    pass
                conn.close()
                idle_since = _now()


def _reap_strays(kernels, spare):
    """Reaps children that are neither a kernel we follow nor the spare: a kernel whose spawn was refused
    after its fork (its spare missed the deadline) is ours once the spare goes. Unreaped, it would stay a
    zombie in its jail's pid namespace, and that jail's teardown would wait for it for ever."""
    known = {host_pid for host_pid, _ in kernels.values()}
    if spare is not None:
        known.add(spare.pid)
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in known:
            return  # nothing has ended, or a kernel whose pidfd reports it
        os.waitpid(info.si_pid, 0)


def _same_binary(binary):
    """Whether the file at the binary's path is still the one that started us; where we may not look
    (a folder only root enters, though it ran the binary for us), we cannot tell, and say yes."""
    try:
        st = os.stat(binary["path"])
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return (st.st_dev, st.st_ino) == (binary["dev"], binary["ino"])


def _log(what):
    print(f"sandpit template {os.getpid()}: {what}", file=sys.stderr)


def _now_ns():
    import time
    return time.perf_counter_ns()


def _now():
    return os.times().elapsed


class _Spare:
    """A child forked ahead of the next request (off every client's path): it waits for the request on a
    socketpair, then joins the jail and forks the kernel (_spare_main)."""

    def __init__(self):
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:
            fd = theirs.detach()
            mine.close()
            raise _SpareChild(fd)
        theirs.close()
        self.channel = mine

    def hand(self, message, fds):
        socket.send_fds(self.channel, [message], fds)

    def report(self, deadline):
        """The next report line, or None when the deadline passed or the child went away."""
        left = deadline - _now_ns() / 1e9
        if left <= 0:
            return None
        self.channel.settimeout(left)
        try:
            data = self.channel.recv(65536)
        except OSError:
            return None
        return json.loads(data) if data else None

    def discard(self):
        self.channel.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        os.waitpid(self.pid, 0)


def _spawn(conn, spare):
    """Answers one request with the spare child; returns (pidfd, host pid, connection) of the kernel or None."""
    conn.setblocking(True)
    conn.settimeout(2)
    fds = []

    def refuse(step, err=22):
        try:
            conn.sendall(json.dumps({"op": "spawn_failed", "step": step, "errno": err}).encode() + b"\n")
        except OSError:
            pass
        conn.close()

    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        if int.from_bytes(creds[4:8], sys.byteorder) != os.getuid():
            conn.close()
            return None
        message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 64)
        request = json.loads(message)
        if len(fds) != 1 + request["cgroup_files"] + 4:
            raise ValueError("wrong number of fds")
    except (OSError, ValueError, KeyError) as e:
        for f in fds:
            os.close(f)
        refuse(f"template request: {e}")
        return None
    deadline = _now_ns() / 1e9 + _SPAWN_DEADLINE
    try:
        spare.hand(message, fds)
    except OSError as e:
        refuse("template: hand the request over", e.errno or 5)
        return None
    finally:
        for f in fds:
            os.close(f)
    first = spare.report(deadline) or {"step": "enter the jail (no answer in time)", "errno": 62}
    if "host_pid" not in first:
        refuse(first.get("step", "enter the jail"), first.get("errno", 5))
        return None
    host_pid = int(first["host_pid"])
    pidfd = os.pidfd_open(host_pid)  # our child now (the spare's, reparented to us, the subreaper)
    second = spare.report(deadline) or {"step": "set up the kernel (no answer in time)", "errno": 62}
    if second.get("ok") is not True:
        os.kill(host_pid, signal.SIGKILL)
        os.waitpid(host_pid, 0)
        os.close(pidfd)
        refuse(second.get("step", "set up the kernel"), second.get("errno", 5))
        return None
    with open(f"/proc/{host_pid}/status") as f:
        nspid = next(line for line in f if line.startswith("NSpid:")).split()[-1]
    try:
        conn.sendall(json.dumps({"op": "spawned", "pid": int(nspid), "host_pid": host_pid}).encode() + b"\n")
    except OSError:  # the session gave up waiting (and started its kernel cold): this one serves nobody
        os.kill(host_pid, signal.SIGKILL)
        os.waitpid(host_pid, 0)
        os.close(pidfd)
        conn.close()
        return None
    return pidfd, host_pid, conn


def _spare_main(fd, settings):
    """The spare, with no frame of the template's left: wait for one request, then make its kernel."""
    os.dup2(fd, 3)
    os.closerange(4, 1 << 20)  # whatever the template had open that no object closed on the way
    channel = socket.socket(fileno=3)
    try:
        message, fds, _, _ = socket.recv_fds(channel, 1 << 20, 64)
    except OSError:
        os._exit(0)
    if not message:
        os._exit(0)  # discarded, or the template went away
    try:
        _kernel(json.loads(message), fds, 3, settings)
    finally:
        os._exit(1)


def _drop_template_privileges():
    """Root's template keeps its uid (it owns the jails' user namespaces, which is all setns needs) and of
    its capabilities only CAP_KILL (a kernel that does not get ready in time runs as another uid), and can
    never gain one."""
    if os.geteuid() == 0:
        header = _CapHeader(0x20080522, 0)
        data = (ctypes.c_uint32 * 6)(1 << 5, 1 << 5, 0, 0, 0, 0)  # effective, permitted: CAP_KILL
        _check(_libc.syscall(126, ctypes.byref(header), data), "capset")
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS)")


def _main():
    settings_line = b""
    while not settings_line.endswith(b"\n"):
        chunk = os.read(4, 1)
        if not chunk:
            os._exit(1)
        settings_line += chunk
    settings = json.loads(settings_line)
    with open("pid", "w") as f:  # for `sandpit session pool --drain`
        f.write(str(os.getpid()))
    with open("/proc/sys/kernel/cap_last_cap") as f:
        settings["last_cap"] = int(f.read())
    # Grandchildren whose parent (the spare) has gone are ours to reap.
    _prctl(_PR_SET_CHILD_SUBREAPER, 1, "prctl(PR_SET_CHILD_SUBREAPER)")
    _drop_template_privileges()
    gc.disable()
    _preload(settings["preload"])
    # Everything imported so far lives in the permanent generation: a kernel's collections never touch
    # (and so never copy) those pages.
    gc.collect()
    gc.freeze()
    os.write(4, b"ready\n")
    os.close(4)
    spare_fd = None
    try:
        _serve(settings)
    except _SpareChild as forked:
        spare_fd = forked.fd
    if spare_fd is not None:
        # The exception and its traceback are gone, and with them every frame of the template's.
        gc.collect()
        _spare_main(spare_fd, settings)


_main()
