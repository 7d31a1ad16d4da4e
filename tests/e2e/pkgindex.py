"""Package indexes the tests make themselves, served on the host's loopback: a PEP 503 index of wheels built
here (a wheel is a zip), and an npm registry of static documents and tarballs. Nothing leaves the machine."""
import base64
import hashlib
import http.server
import io
import json
import tarfile
import threading
import time
import zipfile
from pathlib import Path


def build_wheel(folder: Path, name: str, version: str, body: str = "", requires=()) -> Path:
    """A pure-Python wheel of package `name` whose __init__ holds `body` (and VERSION)."""
    dist = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n{body}",
        f"{dist}/METADATA": metadata,
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: sandpit-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(content.encode())}")
    record.append(f"{dist}/RECORD,,")
    target = folder / name / f"{name}-{version}-py3-none-any.whl"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as z:
        for path, content in files.items():
            z.writestr(path, content)
        z.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return target


def build_sdist(folder: Path, name: str, version: str) -> Path:
    """A source distribution only: installing it means running its build."""
    target = folder / name / f"{name}-{version}.tar.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    data = b"from setuptools import setup\nsetup(name=%r, version=%r)\n" % (name.encode(), version.encode())
    with tarfile.open(target, "w:gz") as t:
        info = tarfile.TarInfo(f"{name}-{version}/setup.py")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return target


def write_simple_index(folder: Path):
    """PEP 503 pages for every project folder under `folder`."""
    projects = sorted(p.name for p in folder.iterdir() if p.is_dir())
    (folder / "index.html").write_text("".join(f'<a href="{p}/">{p}</a>\n' for p in projects))
    for p in projects:
        links = "".join(f'<a href="{f.name}">{f.name}</a>\n' for f in sorted((folder / p).iterdir()) if f.name != "index.html")
        (folder / p / "index.html").write_text(links)


def npm_package(folder: Path, host: str, name: str, version: str, main: str, scripts=None, dependencies=None):
    """A package in the npm registry stub: its tarball and its packument (registry document)."""
    package = {"name": name, "version": version, "main": "index.js"}
    if scripts:
        package["scripts"] = scripts
    if dependencies:
        package["dependencies"] = dependencies
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for path, content in (("package/package.json", json.dumps(package)), ("package/index.js", main)):
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    tarball = buf.getvalue()
    (folder / "tarballs").mkdir(parents=True, exist_ok=True)
    (folder / "tarballs" / f"{name}-{version}.tgz").write_bytes(tarball)
    doc_path = folder / "packuments" / f"{name}.json"
    doc_path.parent.mkdir(parents=True, exist_ok=True)
    doc = json.loads(doc_path.read_text()) if doc_path.exists() else {"name": name, "versions": {}, "dist-tags": {}}
    doc["versions"][version] = {
        **package,
        "dist": {
            "tarball": f"http://{host}/tarballs/{name}-{version}.tgz",
            "shasum": hashlib.sha1(tarball).hexdigest(),
            "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode(),
        },
    }
    doc["dist-tags"]["latest"] = version
    doc_path.write_text(json.dumps(doc))


class Served:
    """A static HTTP server on 127.0.0.1 for `root`; the npm stub maps /<name> to packuments/<name>.json."""

    def __init__(self, root: Path, npm=False, delay=0.0):
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def log_message(self, *args):
                outer.requests.append(self.path)

            def do_GET(self):
                time.sleep(delay)  # a slow index, for what a user sees while waiting
                if npm and not self.path.startswith("/tarballs/"):
                    name = self.path.lstrip("/").replace("%2f", "/").replace("%2F", "/").split("?")[0]
                    doc = root / "packuments" / f"{name}.json"
                    if not doc.exists():
                        self.send_error(404, "not found")
                        return
                    data = doc.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    outer.requests.append(self.path)
                    return
                super().do_GET()

        self.requests = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
