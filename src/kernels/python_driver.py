# sandpit's Python driver: runs inside the jail, reads cells from fd 3 and answers there.
# Frames in:  b"exec <nbytes> <filename>\n" + source.   Out: one JSON object per line.
# Import nothing at start-up that a bare `python3 -c` would not: start-up time is the product.
import sys, os


def _driver():
    import builtins
    import _ast

    esc = {i: "\\u%04x" % i for i in range(32)}
    esc[ord('"')] = '\\"'
    esc[ord("\\")] = "\\\\"

    def js(value):
        if value is None:
            return "null"
        if value is True:
            return "true"
        if value is False:
            return "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, dict):
            return "{" + ",".join(js(k) + ":" + js(v) for k, v in value.items()) + "}"
        return '"' + str(value).translate(esc) + '"'

    def send(obj):
        data = (js(obj) + "\n").encode("utf-8", "replace")
        while data:
            data = data[os.write(3, data):]

    pending = bytearray()

    def read_frame():
        while b"\n" not in pending:
            chunk = os.read(3, 65536)
            if not chunk:
                return None
            pending.extend(chunk)
        header, _, _ = bytes(pending).partition(b"\n")
        del pending[: len(header) + 1]
        op, size, name = header.decode().split(" ", 2)
        size = int(size)
        while len(pending) < size:
            chunk = os.read(3, 65536)
            if not chunk:
                return None
            pending.extend(chunk)
        source = bytes(pending[:size]).decode("utf-8", "replace")
        del pending[:size]
        return op, name, source

    def user_traceback(exc, source, filename):
        import linecache
        import traceback

        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
            tb = tb.tb_next
        return "".join(traceback.format_exception(type(exc), exc, tb))

    def error(exc, source, filename):
        text = user_traceback(exc, source, filename)
        sys.stderr.write(text)
        return {"name": type(exc).__name__, "value": str(exc), "traceback": text}

    namespace = {"__name__": "__main__", "__builtins__": builtins}

    def run(source, filename):
        sys.argv = [filename]
        value, err, status = None, None, 0
        try:
            tree = compile(source, filename, "exec", _ast.PyCF_ONLY_AST)
            last = tree.body.pop() if tree.body and type(tree.body[-1]) is _ast.Expr else None
            exec(compile(tree, filename, "exec"), namespace)
            if last is not None:
                result = eval(compile(_ast.Expression(last.value), filename, "eval"), namespace)
                if result is not None:
                    builtins._ = result
                    value = {"text/plain": repr(result)}
        except SystemExit as exc:
            code = exc.code
            if code is None or isinstance(code, int):
                status = code or 0
            else:
                sys.stderr.write(str(code) + "\n")
                status = 1
            if status:
                err = {"name": "SystemExit", "value": str(status), "traceback": ""}
        except BaseException as exc:
            err, status = error(exc, source, filename), 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        return {"type": "result", "exit_code": status, "value": value, "error": err}

    while True:
        frame = read_frame()
        if frame is None:
            return
        _, filename, source = frame
        send(run(source, filename))


_driver()
del _driver
