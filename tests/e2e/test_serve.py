"""`sandpit serve` with raw HTTP: the security rules and bad input that E2B's SDKs never send.

The SDK flows themselves are in tests/e2b (E2B's own SDKs against the server)."""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import SANDPIT


class Served:
    def __init__(self, sp, *args):
        self.sp = sp
        self.proc = subprocess.Popen([SANDPIT, "serve", "--listen", "127.0.0.1:0", *args], env=sp.env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = [self.proc.stdout.readline().strip() for _ in range(3)]
        assert all(line.startswith("export E2B_") for line in self.lines), (self.lines, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.env = dict(line[len("export "):].split("=", 1) for line in self.lines)
        self.port = int(self.env["E2B_API_URL"].rsplit(":", 1)[1])
        self.key = self.env["E2B_API_KEY"]

    def request(self, method, path, body=None, headers=None, key=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Content-Type": "application/json"} if body is not None else {}
        if key:
            h["X-API-KEY"] = self.key if key is True else key
        h.update(headers or {})
        conn.request(method, path, body=json.dumps(body) if isinstance(body, (dict, list)) else body, headers=h)
        res = conn.getresponse()
        data = res.read()
        conn.close()
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        return res.status, parsed, data, dict(res.getheaders())

    def create(self, key=True, **body):
        status, sandbox, raw, _ = self.request("POST", "/v2/sandboxes", {"templateID": "code-interpreter-v1", **body}, key=key)
        assert status == 201, raw
        return sandbox

    def envd(self, sandbox, method, path, body=None, token=True, headers=None):
        h = {"E2b-Sandbox-Id": sandbox["sandboxID"], "E2b-Sandbox-Port": "49983"}
        if token:
            h["X-Access-Token"] = sandbox["envdAccessToken"] if token is True else token
        h.update(headers or {})
        return self.request(method, path, body, headers=h, key=False)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        return self.proc.stderr.read()


@pytest.fixture
def served(sp):
    s = Served(sp)
    yield s
    s.stop()


def test_it_prints_exactly_three_lines_and_listens_on_loopback(served):
    assert [line.split("=")[0] for line in served.lines] == ["export E2B_API_URL", "export E2B_SANDBOX_URL", "export E2B_API_KEY"]
    assert served.env["E2B_API_URL"] == f"http://127.0.0.1:{served.port}" == served.env["E2B_SANDBOX_URL"]
    assert served.key.startswith("e2b_") and len(served.key) == 44
    key_file = served.sp.state / "sandpit" / "serve" / "api_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    second = Served(served.sp)
    try:
        assert second.key == served.key, "the key is kept and reused"
    finally:
        second.stop()


def test_a_missing_or_wrong_key_gets_401_json(served):
    for key in (False, "e2b_" + "0" * 40, served.key + "0"):
        status, body, raw, _ = served.request("GET", "/v2/sandboxes", key=key)
        assert status == 401, raw
        assert body["code"] == 401 and "API key" in body["message"]


def test_another_keys_sandboxes_are_invisible(sp):
    alice, bob = "e2b_" + "a" * 40, "e2b_" + "b" * 40
    sp.system(f'[serve.api_keys]\n"{alice}" = "alice"\n"{bob}" = "bob"\n')
    s = Served(sp)
    try:
        mine = s.create(key=alice)
        status, listed, _, _ = s.request("GET", "/v2/sandboxes", key=bob)
        assert status == 200 and listed == []
        assert s.request("GET", f"/sandboxes/{mine['sandboxID']}", key=bob)[0] == 404
        assert s.request("DELETE", f"/sandboxes/{mine['sandboxID']}", key=bob)[0] == 404
        assert s.request("POST", f"/v2/sandboxes/{mine['sandboxID']}/connect", {}, key=bob)[0] == 404
        status, detail, _, _ = s.request("GET", f"/sandboxes/{mine['sandboxID']}", key=alice)
        assert status == 200 and detail["sandboxID"] == mine["sandboxID"]
        # The audit log names the key's identity.
        s.envd(mine, "POST", "/process.Process/List", {})
        assert s.request("DELETE", f"/sandboxes/{mine['sandboxID']}", key=alice)[0] == 204
    finally:
        s.stop()


def test_sandbox_traffic_needs_the_sandbox_token(served):
    sandbox = served.create()
    assert served.envd(sandbox, "GET", "/health", token=False)[0] == 204, "health needs no token"
    status, body, _, _ = served.envd(sandbox, "POST", "/filesystem.Filesystem/ListDir", {"path": "/home/user"}, token=False)
    assert status == 401 and body["code"] == 401
    assert served.envd(sandbox, "POST", "/filesystem.Filesystem/ListDir", {"path": "/home/user"}, token="wrong")[0] == 401
    assert served.envd(sandbox, "GET", "/envs", token=False)[0] == 401
    assert served.envd(sandbox, "GET", "/files?path=a.txt", token="wrong")[0] == 401
    assert served.envd(sandbox, "GET", "/files?path=a.txt", token=False)[0] == 401, "no token and no signature"
    status, envs, _, _ = served.envd(sandbox, "GET", "/envs")
    assert status == 200 and envs["E2B_SANDBOX_ID"] == sandbox["sandboxID"]
    ci = {"E2b-Sandbox-Id": sandbox["sandboxID"], "E2b-Sandbox-Port": "49999"}
    assert served.request("GET", "/contexts", headers=ci, key=False)[0] == 403
    ci["E2B-Traffic-Access-Token"] = sandbox["trafficAccessToken"]
    assert served.request("GET", "/contexts", headers=ci, key=False)[0] == 200


def test_unknown_sandboxes_ports_and_headers(served):
    sandbox = served.create()
    status, body, _, _ = served.request("GET", "/health", headers={"E2b-Sandbox-Id": "nosuch", "E2b-Sandbox-Port": "49983"}, key=False)
    assert status == 502 and body == {"sandboxId": "nosuch", "message": "The sandbox was not found", "code": 502}
    status, body, _, _ = served.request("GET", "/", headers={"E2b-Sandbox-Id": sandbox["sandboxID"], "E2b-Sandbox-Port": "8080"}, key=False)
    assert status == 502 and body["port"] == 8080
    assert served.request("GET", "/health", headers={"E2b-Sandbox-Id": sandbox["sandboxID"]}, key=False)[0] == 400
    assert served.request("GET", "/health", headers={"E2b-Sandbox-Id": "../etc", "E2b-Sandbox-Port": "49983"}, key=False)[0] == 400
    assert served.request("DELETE", f"/sandboxes/{sandbox['sandboxID']}")[0] == 204
    assert served.envd(sandbox, "GET", "/health")[0] == 502, "a killed sandbox is not running"


def test_bad_input_gets_4xx_json_and_never_a_crash(served):
    assert served.request("POST", "/v2/sandboxes", "{not json")[0] == 400
    assert served.request("POST", "/v2/sandboxes", [1, 2])[0] == 400
    assert served.request("POST", "/v2/sandboxes", {"timeout": -5})[0] == 400
    assert served.request("POST", "/v2/sandboxes", {"envVars": {"BAD NAME": "x"}})[0] == 400
    assert served.request("POST", "/v2/sandboxes", {"metadata": {"k": 1}})[0] == 400
    assert served.request("GET", "/no/such/route")[0] == 404
    assert served.request("PATCH", "/sandboxes")[0] == 405
    sandbox = served.create()
    status, body, _, _ = served.envd(sandbox, "POST", "/filesystem.Filesystem/Stat", "{nope")
    assert status == 400 and body["code"] == "invalid_argument"
    status, body, _, _ = served.envd(sandbox, "POST", "/filesystem.Filesystem/Stat", "[" * 100 + "]" * 100)
    assert status == 400 and body["code"] == "invalid_argument"
    status, body, _, _ = served.envd(sandbox, "POST", "/filesystem.Filesystem/Nope", {})
    assert status == 501 and body["code"] == "unimplemented"
    # A stream request whose envelope lies about its length gets one end-stream frame with the error.
    status, _, raw, headers = served.envd(sandbox, "POST", "/process.Process/Start", b"\x00\x00\x00\x10\x00{}",
                                          headers={"Content-Type": "application/connect+json"})
    assert status == 200 and headers["Content-Type"] == "application/connect+json"
    assert raw[0] == 2 and json.loads(raw[5:])["error"]["code"] == "invalid_argument"
    # Oversized heads and bodies.
    status, _, _, _ = served.request("GET", "/v2/sandboxes", headers={"X-Big": "x" * 70_000})
    assert status == 431
    # A body announced too large is refused from its head, before it is sent.
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as raw_socket:
        raw_socket.sendall(f"POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nX-API-KEY: {served.key}\r\nContent-Length: {33 << 20}\r\n\r\n".encode())
        assert raw_socket.recv(4096).startswith(b"HTTP/1.1 413")
    # A head that never ends is cut off; the server is not held.
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as raw_socket:
        raw_socket.sendall(b"GET / HTTP/1.1\r\n" + b"X: " + b"y" * 70_000)
        assert raw_socket.recv(4096).startswith(b"HTTP/1.1 431")
    # After all that the server still serves.
    assert served.request("GET", "/v2/sandboxes")[0] == 200


def test_too_many_sandboxes_get_429(sp):
    sp.configure("[serve]\nmax_sandboxes = 2\n")
    s = Served(sp)
    try:
        a, b = s.create(), s.create()
        status, body, _, _ = s.request("POST", "/v2/sandboxes", {})
        assert status == 429 and "serve.max_sandboxes" in body["message"]
        assert s.request("DELETE", f"/sandboxes/{a['sandboxID']}")[0] == 204
        s.create()
    finally:
        s.stop()


def test_signatures_are_checked_and_expire(served):
    import base64
    import hashlib
    sandbox = served.create()
    assert served.envd(sandbox, "POST", "/files?path=sig.txt", b"signed", headers={"Content-Type": "application/octet-stream"})[0] == 200

    def signed(path, expires=None, operation="read"):
        raw = f"{path}:{operation}::{sandbox['envdAccessToken']}" + (f":{expires}" if expires else "")
        sig = "v1_" + base64.b64encode(hashlib.sha256(raw.encode()).digest()).decode().rstrip("=")
        query = f"/files?path={path}&signature={sig.replace('+', '%2B').replace('/', '%2F')}"
        return query + (f"&signature_expiration={expires}" if expires else "")

    # Without routing headers: the signature names the sandbox.
    status, _, raw, _ = served.request("GET", signed("sig.txt"), key=False)
    assert (status, raw) == (200, b"signed")
    assert served.request("GET", signed("sig.txt", int(time.time()) + 60), key=False)[0] == 200
    status, body, _, _ = served.request("GET", signed("sig.txt", int(time.time()) - 1), key=False)
    assert status == 401
    status, body, _, _ = served.request("GET", signed("sig.txt").replace("sig.txt", "other.txt", 1), key=False)
    assert status == 401
    assert served.request("POST", signed("sig.txt"), b"x", headers={"Content-Type": "application/octet-stream"}, key=False)[0] == 401, \
        "a read signature does not allow writing"


def test_uploads_respect_the_quota_and_the_transfer_limit(sp):
    sp.configure('[limits]\nworkspace = "16MiB"\ntransfer = "8MiB"\n')
    s = Served(sp)
    try:
        sandbox = s.create()
        octet = {"Content-Type": "application/octet-stream"}
        status, body, _, _ = s.envd(sandbox, "POST", "/files?path=big.bin", b"x" * (9 << 20), headers=octet)
        assert status in (413, 400), body
        if os.geteuid() == 0:  # the workspace quota is an ext4 image only as root
            for i in range(3):
                status, body, _, _ = s.envd(sandbox, "POST", f"/files?path=fill{i}.bin", os.urandom(7 << 20), headers=octet)
                if status == 507:
                    break
            assert status == 507 and body["code"] == 507
        assert s.envd(sandbox, "POST", "/files?path=small.txt", b"still fine", headers=octet)[0] in (200, 507)
    finally:
        s.stop()


def live_sandboxes(sp, ids):
    sessions = json.loads(sp.run("session", "list", "--json", check=0).stdout)
    return [s for s in sessions if any(i in s["workspace"] for i in ids)]


def test_sigterm_ends_every_sandbox_it_started(sp):
    s = Served(sp)
    made = [s.create() for _ in range(2)]
    ids = [m["sandboxID"] for m in made]
    daemons = [d["pid"] for d in live_sandboxes(sp, ids)]
    assert len(daemons) == 2
    stderr = s.stop()
    assert s.proc.returncode == 0, stderr
    assert live_sandboxes(sp, ids) == [], "no session daemon outlives serve"
    for pid in daemons:
        for _ in range(50):
            try:
                state = next(line for line in open(f"/proc/{pid}/status") if line.startswith("State:"))
            except (FileNotFoundError, ProcessLookupError):
                break
            if "zombie" in state:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"daemon {pid} still runs")
    assert not list((sp.state / "sandpit" / "serve" / "sandboxes").iterdir())


def test_a_non_loopback_listen_warns_that_traffic_is_plain_http(sp):
    proc = subprocess.Popen([SANDPIT, "serve", "--listen", "0.0.0.0:0"], env=sp.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("export E2B_API_URL=http://0.0.0.0:")
        time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "plain HTTP" in err and "TLS" in err
    assert proc.returncode == 0


def test_a_bad_listen_address_is_a_usage_error(sp):
    for listen in ("nohost", "127.0.0.1:99999", "not-an-ip:80"):
        proc = sp.run("serve", "--listen", listen, timeout=30)
        assert proc.returncode == 2, (listen, proc.stderr)
        assert proc.stderr.startswith("sandpit: ") and proc.stdout == ""


def test_a_refusal_by_policy_reaches_the_client_with_its_reason(sp):
    sp.configure('[policy]\nmode = "block"\n')
    s = Served(sp)
    try:
        sandbox = s.create()
        ci = {"E2b-Sandbox-Id": sandbox["sandboxID"], "E2b-Sandbox-Port": "49999", "E2B-Traffic-Access-Token": sandbox["trafficAccessToken"],
              "X-Access-Token": sandbox["envdAccessToken"]}
        status, _, raw, _ = s.request("POST", "/execute", {"code": "import shutil\nshutil.rmtree('/home/user')"}, headers=ci, key=False)
        lines = [json.loads(line) for line in raw.decode().splitlines()]
        assert status == 200 and lines[-1] == {"type": "end_of_execution"}
        error = next(line for line in lines if line["type"] == "error")
        assert error["name"] == "PolicyError" and "rmtree" in error["value"]
        blocked = [r for r in sp.audit_records() if r.get("blocked")]
        assert blocked and blocked[-1]["command"] == "serve"
    finally:
        s.stop()


def test_executions_commands_and_files_are_audited_with_the_client(served):
    sandbox = served.create()
    ci = {"E2b-Sandbox-Id": sandbox["sandboxID"], "E2b-Sandbox-Port": "49999", "E2B-Traffic-Access-Token": sandbox["trafficAccessToken"],
          "User-Agent": "raw-test/1.0"}
    status, _, raw, _ = served.request("POST", "/execute", {"code": "print(6 * 7)"}, headers=ci, key=False)
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    assert [line["type"] for line in lines] == ["number_of_executions", "stdout", "end_of_execution"]
    assert lines[1]["text"] == "42\n" and "+00:00" in lines[1]["timestamp"]
    served.envd(sandbox, "POST", "/files?path=audited.txt", b"abc", headers={"Content-Type": "application/octet-stream", "User-Agent": "raw-test/1.0"})
    records = [r for r in served.sp.audit_records() if r["command"] == "serve"]
    run = next(r for r in records if r.get("language") == "python")
    assert run["client"] == "raw-test/1.0" and run["success"] is True
    upload = next(r for r in records if r.get("operation") == "upload")
    assert upload["to"] == "/home/user/audited.txt" and upload["files"][0]["bytes"] == 3
    assert served.sp.run("audit", "verify").returncode == 0
