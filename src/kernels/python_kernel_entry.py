# sandpit's Python template, part 1 of 2 (python_template.py follows it in the same program): what a
# spare child and the kernel it forks do to join a running jail and become a kernel there, exactly as the
# jail's init would have made one (docs/SECURITY.md, "Templates").
import gc, os, signal, socket, sys, select, json, ctypes, fcntl, resource

_libc = ctypes.CDLL(None, use_errno=True)
# setns(pidfd, ...) joins all of these at once, the user namespace first (Linux >= 5.8).
_NAMESPACES = 0x10000000 | 0x00020000 | 0x20000000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x02000000
_PR_SET_DUMPABLE, _PR_SET_SECCOMP, _PR_CAPBSET_DROP, _PR_SET_SECUREBITS = 4, 22, 24, 28
_PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT, _PR_SET_CHILD_SUBREAPER = 38, 47, 36
# SECBIT_NOROOT|_LOCKED, NO_SETUID_FIXUP|_LOCKED, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE|_LOCKED: as caps.cpp.
_SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


def _check(result, step):
    if result != 0:
        raise _Step(step, ctypes.get_errno())


class _Step(Exception):
    def __init__(self, step, err):
        super().__init__(step)
        self.step, self.err = step, err


def _prctl(option, arg, step):
    _check(_libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)), step)


def _drop_privileges(last_cap):
    # What the jail's init does for itself (caps.cpp): no capability can come back, then no new privileges.
    _prctl(_PR_CAP_AMBIENT, 4, "clear ambient capabilities")  # PR_CAP_AMBIENT_CLEAR_ALL
    _prctl(_PR_SET_SECUREBITS, _SECUREBITS, "lock securebits")
    for cap in range(last_cap + 1):
        if _libc.prctl(_PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            raise _Step("drop bounding set", ctypes.get_errno())
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.syscall(126, ctypes.byref(header), data), "capset")  # SYS_capset
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS)")


def _load_seccomp(program):
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _Fprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_char_p))
    _check(_libc.prctl(_PR_SET_SECCOMP, ctypes.c_ulong(2), ctypes.byref(prog), 0, 0), "load seccomp filter")


def _fail(report, e, step, status):
    """Tells the template which step failed and why (a _Step names its own), and exits."""
    failure = {"step": e.step, "errno": e.err} if isinstance(e, _Step) else {"step": step, "errno": e.errno or 0}
    os.write(report, json.dumps(failure).encode() + b"\n")
    os._exit(status)


def _kernel(request, fds, report, settings):
    """In the forked child: join the jail, become its sandbox user, fork into its pid namespace. The
    grandchild drops everything the jail's init dropped, loads the jail's seccomp filter and becomes a
    kernel exactly as the init's spawn would have made it; then it runs the driver the session sends."""
    ncg = request["cgroup_files"]
    pidfd, cgroups, channels = fds[0], fds[1 : 1 + ncg], fds[1 + ncg :]
    try:
        for f in cgroups:  # v1 `tasks`: a single-threaded process moves itself (see launch.cpp)
            if os.write(f, b"0") != 1:
                raise _Step("join cgroup", 5)
        _prctl(_PR_SET_DUMPABLE, 0, "prctl(PR_SET_DUMPABLE)")
        _check(_libc.setns(pidfd, _NAMESPACES), "setns")
        inside = request["inside_id"]
        if request["root_mode"]:
            os.setgroups([])
        os.setresgid(inside, inside, inside)
        os.setresuid(inside, inside, inside)
    except (_Step, OSError) as e:
        _fail(report, e, "enter the jail", 0)
    pid = os.fork()
    if pid != 0:  # the first child: tell the template its grandchild's pid, and go (the template reaps it)
        os.write(report, json.dumps({"host_pid": pid}).encode() + b"\n")
        os._exit(0)
    try:
        os.setsid()
        _drop_privileges(settings["last_cap"])
        _load_seccomp(bytes.fromhex(request["seccomp"]))
        for resource_id, value in request["rlimits"]:
            soft, hard = resource.getrlimit(resource_id)
            value = value if hard == resource.RLIM_INFINITY or hard >= value else hard
            resource.setrlimit(resource_id, (value, value))
        os.chdir(request["cwd"])
    except (_Step, OSError) as e:
        _fail(report, e, "set up the kernel", 127)
    # Nothing but its own channels (0..3) and, for one more write, the report (4): no fd of the template's
    # or of another session's, before it is dumpable again.
    high = [os.dup(f) for f in channels]
    kept_report = os.dup(report)
    for i, f in enumerate(high):
        os.dup2(f, i, inheritable=True)
    os.dup2(kept_report, 4, inheritable=False)
    os.closerange(5, 1 << 20)
    os.write(4, b'{"ok": true}\n')
    os.close(4)
    # Only now may processes of the jail (same uid) read /proc/self: it holds nothing of anyone else's.
    # Dumpable is also what makes /proc/self ours, for oom_score_adj (the init's spawn does the same).
    try:
        _prctl(_PR_SET_DUMPABLE, 1, "prctl(PR_SET_DUMPABLE)")
        with open("/proc/self/oom_score_adj", "w") as f:  # at the memory limit, the code goes first
            f.write("1000")
    except (_Step, OSError):
        os._exit(127)  # the session sees the kernel die at its first cell
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    _become_kernel(request["driver_size"])


def _read_exact(fd, n):
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            os._exit(1)
        data += chunk
    return data


def _become_kernel(driver_size):
    # The session's first frame on fd 3: the environment, as a cold kernel gets it from execve.
    line = b""
    while not line.endswith(b"\n"):
        line += _read_exact(3, 1)
    env = json.loads(_read_exact(3, int(line)))
    os.environ.clear()
    os.environ.update(env)
    sys.argv[:] = ["-c"]
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    # sys.path as python3 -c would have built it under this environment: '' first, then PYTHONPATH.
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [""] + extra + [p for p in sys.path if p and p not in extra]
    import site
    if site.ENABLE_USER_SITE:
        site.USER_BASE = site.USER_SITE = None
        if os.path.isdir(site.getusersitepackages()):
            site.addsitedir(site.getusersitepackages())
    import importlib
    importlib.invalidate_caches()
    # No two kernels share random state: random reseeds itself after fork (os.register_at_fork); numpy's
    # global generator does not. (The str hash secret cannot change in a running interpreter: see
    # docs/SECURITY.md, "Templates".)
    import random
    random.seed()
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()
    _matplotlib_dirs_from_environment()
    gc.enable()
    main = type(sys)("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    source = _read_exact(3, driver_size)
    exec(compile(source, "<string>", "exec"), main.__dict__)
    os._exit(0)


def _matplotlib_dirs_from_environment():
    # matplotlib caches its config and cache folders at import (in the template: a folder of the template's).
    # Forget them, so the kernel finds them from its own MPLCONFIGDIR as a cold kernel would.
    mpl = sys.modules.get("matplotlib")
    if mpl is None:
        return
    for name in ("get_configdir", "get_cachedir"):
        function = getattr(mpl, name, None)
        cells = dict(zip(function.__code__.co_freevars, function.__closure__ or ())) if function else {}
        if "called" in cells and "ret" in cells:
            cells["called"].cell_contents = False
            cells["ret"].cell_contents = None
