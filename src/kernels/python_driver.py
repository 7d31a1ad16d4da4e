# sandpit's Python driver: reads cells on fd 3 ("exec <nbytes> <cell id> <name>\n" + source), runs
# them in one namespace, answers one JSON line per cell. "check" frames ask whether a cell is
# complete (the REPL's continuation prompt) and are answered without running anything; an
# "env" frame (a JSON object) sets environment variables for the next cell only. Start-up time is the product:
# compiling this file is on every run's path, so the hot loop stays small, code that only
# some cells need lives in _COLD (compiled on first use), and nothing is imported eagerly.
import sys, os


def _driver():
    import builtins
    import _signal

    # SIGINT (Ctrl-C, a timeout) interrupts the user's code only: outside a
    # cell it is ignored, so it can never take the driver down.
    _signal.signal(2, _signal.SIG_IGN)
    ns = {"__name__": "__main__", "__builtins__": builtins}
    sources = {}  # every cell's source by name, for tracebacks through earlier cells
    shown = []  # what display() showed during the cell: MIME bundles
    scoped = {}  # the next cell's environment variables (an "env" frame)

    def display(*objs, **kwargs):
        # IPython's display(): each object's richest representations, kept for the cell's result.
        for obj in objs:
            shown.append(_cold()["bundle"](obj, kwargs.get("raw", False)))

    builtins.display = display
    esc = {i: "\\u%04x" % i for i in range(32)}
    esc.update({34: '\\"', 92: "\\\\"})

    def js(v):
        if v is None or v is True or v is False:
            return {None: "null", True: "true", False: "false"}[v]
        if type(v) is int:
            return str(v)
        if type(v) is float:
            return repr(v) if v == v and v not in (float("inf"), float("-inf")) else "null"
        if type(v) is tuple:
            v = list(v)
        if type(v) is dict:
            return "{" + ",".join(js(k) + ":" + js(x) for k, x in v.items()) + "}"
        if type(v) is list:
            return "[" + ",".join(js(x) for x in v) + "]"
        return '"' + str(v).translate(esc) + '"'

    def split(src, name):
        # A last line at column 0 that is a whole expression, after a head that
        # compiles on its own: no AST needed (building one costs ~2 ms).
        head, _, tail = src.rstrip().rpartition("\n")
        if tail[:1] not in ("", " ", "\t", "#", "@"):
            pad = "\n" * head.count("\n") + ("\n" if head else "")
            try:
                value = compile(pad + tail, name, "eval")
            except SyntaxError:
                value = None
            try:
                if value is not None:
                    return compile(head, name, "exec"), value
                if ";" not in tail:
                    compile(pad + tail, name, "exec")  # the last statement is no expression
                    return compile(src, name, "exec"), None
            except SyntaxError:
                pass
        return _cold()["ast_split"](src, name)

    def run(src, name, cell):
        sys.argv = [name]
        sources[name] = src
        value, err, status = None, None, 0
        saved = {k: os.environ.get(k) for k in scoped}
        os.environ.update(scoped)
        try:
            _signal.signal(2, _signal.default_int_handler)
            body, last = split(src, name)
            exec(body, ns)
            if last is not None:
                result = eval(last, ns)
                if result is not None:
                    builtins._ = result
                    t = type(result)
                    if t in (int, float, str, bool, list, dict, tuple):
                        value = {"text/plain": repr(result)}
                    else:
                        value = _cold()["bundle"](result, False)
        except SystemExit as e:
            status = e.code if e.code is None or type(e.code) is int else 1
            status = status or 0
            if type(e.code) not in (int, type(None)):
                print(e.code, file=sys.stderr)
            err = status and {"name": "SystemExit", "value": str(status), "traceback": ""} or None
        except BaseException as e:
            _signal.signal(2, _signal.SIG_IGN)
            err, status = _cold()["error"](e, sources), 1
        _signal.signal(2, _signal.SIG_IGN)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        scoped.clear()
        figures = _cold()["figures"]() if "matplotlib.pyplot" in sys.modules else []
        _flush()
        reply = {"type": "result", "cell": cell, "exit_code": status, "value": value, "error": err, "images": figures}
        if shown:
            reply["displays"] = shown[:]
            shown.clear()
        return reply

    buf = bytearray()

    def need(n):
        while len(buf) < n:
            chunk = os.read(3, 65536)
            if not chunk:
                return False
            buf.extend(chunk)
        return True

    while True:
        while b"\n" not in buf:
            if not need(len(buf) + 1):
                return _finish()
        header, _, _ = bytes(buf).partition(b"\n")
        op, size, cell, name = header.decode().split(" ", 3)
        del buf[: len(header) + 1]
        if not need(int(size)):
            return _finish()
        src = bytes(buf[: int(size)]).decode("utf-8", "replace")
        del buf[: int(size)]
        if op == "env":
            scoped.update(_cold()["env"](src))
            continue
        if op == "setenv":
            # The session took a workspace whose profile sets variables (a pool sandbox): from now on.
            os.environ.update(_cold()["env"](src))
            continue
        if op == "chdir":
            # A pool sandbox lent to a --fresh run: its workspace was mounted over /workspace just now.
            try:
                os.chdir(src)
            except OSError:
                pass
            continue
        if op == "refresh":
            # Packages were installed: forget the import system's negative look-ups.
            import importlib
            importlib.invalidate_caches()
            continue
        if op == "check":
            reply = {"type": "check", "cell": cell, "status": _cold()["check"](src)}
        else:
            reply = run(src, name, cell)
        out = (js(reply) + "\n").encode("utf-8", "replace")
        while out:
            out = out[os.write(3, out):]


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _finish():
    # What interpreter shutdown does that code can observe: join non-daemon
    # threads, run atexit handlers, flush. Then skip the module teardown and
    # final collections (1-2 ms, and __del__ at shutdown is not guaranteed anyway).
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    import atexit
    atexit._run_exitfuncs()
    _flush()
    os._exit(0)


_COLD = r'''
def ast_split(src, name):
    import _ast
    tree = compile(src, name, "exec", _ast.PyCF_ONLY_AST)
    last = tree.body.pop() if tree.body and type(tree.body[-1]) is _ast.Expr else None
    value = last and compile(_ast.Expression(last.value), name, "eval")
    return compile(tree, name, "exec"), value


def check(src):
    # The interactive interpreter's own rule (codeop): "incomplete" waits for more
    # lines, "invalid" runs anyway so the kernel reports the syntax error.
    import codeop, warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = codeop.compile_command(src, "<cell>", "single")
        except (SyntaxError, OverflowError, ValueError, MemoryError, RecursionError):
            return "invalid"
    return "complete" if code is not None else "incomplete"


def env(src):
    import json
    return {str(k): str(v) for k, v in json.loads(src).items()}


_REPRS = (("text/html", "_repr_html_"), ("text/markdown", "_repr_markdown_"), ("image/svg+xml", "_repr_svg_"),
          ("image/png", "_repr_png_"), ("image/jpeg", "_repr_jpeg_"), ("text/latex", "_repr_latex_"),
          ("application/json", "_repr_json_"), ("application/javascript", "_repr_javascript_"))


def bundle(obj, raw):
    # The representations IPython would show: text/plain always, then every _repr_*_ the object has.
    if raw and type(obj) is dict:
        return {k: v for k, v in obj.items() if type(k) is str}
    out = {"text/plain": repr(obj)}
    if type(obj).__name__ == "Figure" and hasattr(obj, "savefig"):
        import base64, io
        data = io.BytesIO()
        obj.savefig(data, format="png")
        out["image/png"] = base64.b64encode(data.getvalue()).decode()
    for mime, method in _REPRS:
        f = getattr(type(obj), method, None)
        if f is None:
            continue
        try:
            r = f(obj)
        except Exception:
            continue
        if type(r) is tuple:
            r = r[0]
        if r is None:
            continue
        if type(r) is bytes:
            import base64
            r = base64.b64encode(r).decode()
        out[mime] = r if mime == "application/json" else str(r)
    f = getattr(type(obj), "_repr_mimebundle_", None)
    if f is not None:
        try:
            r = f(obj)
            r = r[0] if type(r) is tuple else r
            if type(r) is dict:
                out.update({k: v for k, v in r.items() if type(k) is str})
        except Exception:
            pass
    return out


def error(e, sources):
    import linecache, traceback
    for name, src in sources.items():
        linecache.cache[name] = (len(src), None, src.splitlines(True), name)
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(e), e, tb))
    sys.stderr.write(text)
    return {"name": type(e).__name__, "value": str(e), "traceback": text}


shown = []
saved = [0]


class AggWarning:
    # A warnings filter's message matcher without the re module (3 ms to import).
    def match(self, text):
        return text.startswith("Matplotlib is currently using agg")


def figures():
    # Figures shown with plt.show() during the cell, then those left open: PNG
    # files under /workspace/.sandpit/outputs, returned base64-encoded too.
    plt = sys.modules["matplotlib.pyplot"]
    if not getattr(plt.show, "_sandpit", False):
        import warnings
        warnings.filters.insert(0, ("ignore", AggWarning(), Warning, None, 0))
        warnings._filters_mutated()

        def show(*args, **kwargs):
            shown.extend(save(plt.figure(n)) for n in plt.get_fignums())
            plt.close("all")
        show._sandpit = True
        plt.show = show
    images = shown[:] + [save(plt.figure(n)) for n in plt.get_fignums()]
    shown.clear()
    plt.close("all")
    return images


def save(figure):
    import base64, io, time
    data = io.BytesIO()
    figure.savefig(data, format="png")
    saved[0] += 1
    path = "/workspace/.sandpit/outputs/%d-%d.png" % (time.time() * 1000, saved[0])
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data.getvalue())
    except OSError:
        path = ""
    return {"format": "png", "path": path, "base64": base64.b64encode(data.getvalue()).decode()}
'''
_cold_ns = {}


def _cold():
    # Filled only once whole: a SIGINT that lands while a cell's first use compiles
    # it must not leave half of it for the error handler (a KeyError took the driver down).
    if not _cold_ns:
        ns = {"sys": sys, "os": os}
        exec(compile(_COLD, "<string>", "exec"), ns)
        _cold_ns.update(ns)
    return _cold_ns


_driver()
