"""network.allow: code reaches the hosts it names through the egress proxy on the jail's loopback, and nothing
else. Every server here is the test's own, on the host's loopback (HTTP, and HTTPS with a certificate made for
the test); names that must not be reached end in .invalid, so no request ever leaves this machine."""
import json
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import SUCCESS
from pkgindex import Served
from test_unprivileged import make_user_env, remove_user_env


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    (root / "hello.txt").write_text("hello through the proxy\n")
    served = Served(root)
    yield served
    served.close()


@pytest.fixture
def other(tmp_path):
    """A server no rule names: it must never see a request."""
    root = tmp_path / "other"
    root.mkdir()
    (root / "secret.txt").write_text("secret\n")
    served = Served(root)
    yield served
    served.close()


def allow(sp, *rules):
    sp.configure("[network]\nallow = [" + ", ".join(json.dumps(r) for r in rules) + "]\n")


FETCH = """
import urllib.request, urllib.error
def fetch(url, **kw):
    try:
        with urllib.request.urlopen(url, timeout=10, **kw) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, repr(e)
"""


def test_an_allowed_host_answers_through_the_proxy(sp, site):
    allow(sp, site.host)
    out = sp.exec(FETCH + f"print(fetch('http://{site.host}/hello.txt'))", check=SUCCESS).stdout
    assert out == "(200, 'hello through the proxy\\n')\n"
    assert site.requests == ["/hello.txt"]
    # The environment says where the proxy is, in both spellings every tool reads.
    env = sp.exec("import os; print(os.environ['HTTP_PROXY'], os.environ['https_proxy'])", check=SUCCESS).stdout
    assert env == "http://127.0.0.1:3128 http://127.0.0.1:3128\n"
    # curl and Node's fetch() go the same way.
    assert sp.shell(f"curl -sS http://{site.host}/hello.txt", check=SUCCESS).stdout == "hello through the proxy\n"
    node = sp.exec(f"const r = await fetch('http://{site.host}/hello.txt'); console.log(r.status, await r.text())", language="javascript",
                   check=SUCCESS)
    assert node.stdout == "200 hello through the proxy\n\n"


def test_everything_else_is_refused_and_reaches_nothing(sp, site, other):
    allow(sp, site.host)
    code = FETCH + f"""
print(fetch('http://{other.host}/secret.txt'))
print(fetch('http://blocked.invalid/'))
print(fetch('http://127.0.0.1:{site.port + 0}/hello.txt'.replace('127.0.0.1', 'localhost')))
"""
    lines = sp.exec(code, check=SUCCESS).stdout.splitlines()
    assert lines[0].startswith("(403, ") and f"{other.host} is not allowed (network.allow)" in lines[0], lines[0]
    assert lines[1].startswith("(403, ") and "blocked.invalid:80 is not allowed" in lines[1], lines[1]
    assert lines[2].startswith("(403, "), lines[2]
    assert other.requests == []
    # Going around the proxy finds only the jail's own loopback.
    direct = sp.exec(f"""
import socket
s = socket.socket(); s.settimeout(3)
try:
    s.connect(('127.0.0.1', {other.port})); print('connected')
except OSError as e:
    print(type(e).__name__)
""", check=SUCCESS).stdout
    assert direct == "ConnectionRefusedError\n"
    assert other.requests == []


def test_a_name_reaches_only_public_addresses(sp, site):
    # "localhost" resolves to loopback: allowed by name it is still refused, so that no name (a DNS answer
    # that changed: rebinding) leads to the host's own services. Only an address rule reaches them.
    allow(sp, f"localhost:{site.port}")
    out = sp.exec(FETCH + f"print(fetch('http://localhost:{site.port}/hello.txt'))", check=SUCCESS).stdout
    assert out.startswith("(403, ") and "which is not a public address" in out, out
    assert site.requests == []


def test_a_rule_without_a_port_means_80_and_443(sp, site):
    allow(sp, "127.0.0.1")
    out = sp.exec(FETCH + f"print(fetch('http://{site.host}/hello.txt'))", check=SUCCESS).stdout
    assert out.startswith("(403, ") and "is not allowed (network.allow)" in out
    assert site.requests == []


@pytest.fixture
def tls_site(tmp_path):
    """An HTTPS server on the host's loopback with a self-signed certificate for 127.0.0.1."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    root = tmp_path / "tls"
    root.mkdir()
    (root / "x.txt").write_text("over tls\n")
    served = Served(root)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    served.server.socket = context.wrap_socket(served.server.socket, server_side=True)
    served.cert = cert.read_text()
    yield served
    served.close()


def test_https_goes_through_a_connect_tunnel(sp, tls_site):
    allow(sp, tls_site.host)
    sp.exec("pass", check=SUCCESS)
    (sp.files_dir() / "cert.pem").write_text(tls_site.cert)
    code = FETCH + f"""
import ssl
print(fetch('https://{tls_site.host}/x.txt', context=ssl.create_default_context(cafile='/workspace/cert.pem')))
"""
    assert sp.exec(code, check=SUCCESS).stdout == "(200, 'over tls\\n')\n"
    curl = sp.shell(f"curl -sS --cacert /workspace/cert.pem https://{tls_site.host}/x.txt", check=SUCCESS)
    assert curl.stdout == "over tls\n"
    # The tunnel is audited with what it carried; the proxy saw no plaintext (it only relays).
    records = [r for r in sp.audit_records() if r.get("command") == "network" and r.get("method") == "CONNECT"]
    assert records and all(r["success"] and r["host"] == "127.0.0.1" and r["port"] == tls_site.port for r in records), records
    assert all(r["bytes_up"] > 0 and r["bytes_down"] > 0 and r["channel"] == "code" for r in records)


def test_every_connection_is_audited(sp, site, other):
    allow(sp, site.host)
    sp.exec(FETCH + f"fetch('http://{site.host}/hello.txt'); fetch('http://{other.host}/secret.txt')", check=SUCCESS)
    records = [r for r in sp.audit_records() if r.get("command") == "network"]
    ok = [r for r in records if r["port"] == site.port]
    refused = [r for r in records if r["port"] == other.port]
    assert ok and ok[0]["success"] and ok[0]["rule"] == site.host and ok[0]["method"] == "GET" and ok[0]["bytes_down"] > 0
    assert refused and not refused[0]["success"] and "is not allowed (network.allow)" in refused[0]["blocked"]
    # stats count code runs; network records do not inflate them.
    stats = json.loads(sp.run("stats", "--json", check=0).stdout)
    assert stats["total"]["executions"] == 1 and stats["total"]["blocked"] == 0, stats


def test_without_allow_there_is_no_proxy(sp, site):
    out = sp.exec(FETCH + f"""
import os
print('HTTP_PROXY' in os.environ)
print(fetch('http://127.0.0.1:3128/')[0], fetch('http://{site.host}/hello.txt')[0])
""", check=SUCCESS).stdout
    assert out == "False\n0 0\n"
    assert site.requests == []


def test_a_flood_of_connections_is_bounded_and_the_proxy_recovers(sp, site):
    allow(sp, site.host)
    code = FETCH + f"""
import socket
held = []
for _ in range(200):
    s = socket.socket()
    s.connect(('127.0.0.1', 3128))
    held.append(s)
# 64 are served (they wait for a request head); the rest are answered 503 and closed.
answers = []
for s in held[64:]:
    s.settimeout(5)
    answers.append(s.recv(64).split(b'\\r\\n')[0])
print(len(answers), set(answers))
for s in held:
    s.close()
import time
for _ in range(50):
    status, body = fetch('http://{site.host}/hello.txt')
    if status == 200:
        break
    time.sleep(0.1)
print(status, body.strip())
"""
    out = sp.exec(code, check=SUCCESS, timeout=60).stdout.splitlines()
    assert out[0] == "136 {b'HTTP/1.1 503 Service Unavailable'}", out
    assert out[1] == "200 hello through the proxy"


def test_a_client_that_never_sends_a_request_is_dropped(sp, site):
    # head_timeout is 30 s: too long for a test, so this checks only that a silent client holds no
    # other request up.
    allow(sp, site.host)
    code = FETCH + f"""
import socket
silent = [socket.create_connection(('127.0.0.1', 3128)) for _ in range(8)]
print(fetch('http://{site.host}/hello.txt')[0])
"""
    assert sp.exec(code, check=SUCCESS).stdout == "200\n"


def test_a_slow_upstream_does_not_stall_others(sp, tmp_path, site):
    """A server that accepts and never answers: one request waits, others go through."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    allow(sp, site.host, f"127.0.0.1:{port}")
    code = FETCH + f"""
import threading
slow = threading.Thread(target=fetch, args=('http://127.0.0.1:{port}/',), daemon=True)
slow.start()
import time; time.sleep(0.3)
print(fetch('http://{site.host}/hello.txt')[0])
"""
    try:
        assert sp.exec(code, check=SUCCESS, timeout=60).stdout == "200\n"
    finally:
        listener.close()


def test_the_allow_list_works_for_an_unprivileged_user(site):
    root, run = make_user_env(0o600)
    try:
        config = f'[network]\nallow = ["{site.host}"]\n'
        proc = run("exec", "-c", FETCH + f"print(fetch('http://{site.host}/hello.txt'))", config=config)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "(200, 'hello through the proxy\\n')\n"
    finally:
        remove_user_env(root, run)


def test_a_config_can_only_narrow_the_system_list(sp, site, other, tmp_path):
    system = tmp_path / "system.toml"
    system.write_text(f'[network]\nallow = ["{site.host}"]\n')
    sp.configure(f'[network]\nallow = ["{site.host}", "{other.host}"]\n')
    proc = sp.exec("pass", env={"SANDPIT_SYSTEM_CONFIG": str(system)})
    assert proc.returncode == 2 and "network.allow" in proc.stderr, proc.stderr
    assert other.requests == []


def test_requests_goes_through_the_proxy(sp, site):
    allow(sp, site.host)
    code = f"""
try:
    import requests
except ImportError:
    print('no requests')
else:
    r = requests.get('http://{site.host}/hello.txt', timeout=10)
    print(r.status_code, r.text.strip())
"""
    out = sp.exec(code, check=SUCCESS).stdout
    if out == "no requests\n":
        pytest.skip("python3-requests is not installed (scripts/setup --test)")
    assert out == "200 hello through the proxy\n"


def test_connect_to_an_allowed_host_on_another_port_is_refused(sp, site, other):
    allow(sp, site.host)
    code = f"""
import socket
s = socket.create_connection(('127.0.0.1', 3128))
s.sendall(b'CONNECT 127.0.0.1:{other.port} HTTP/1.1\\r\\nHost: 127.0.0.1:{other.port}\\r\\n\\r\\n')
print(s.recv(200).split(b'\\r\\n')[0].decode())
"""
    assert sp.exec(code, check=SUCCESS).stdout == "HTTP/1.1 403 Forbidden\n"
    assert other.requests == []


def test_names_do_not_resolve_inside(sp):
    # No resolver in the jail (no /etc/resolv.conf: glibc asks 127.0.0.1, the jail's own loopback, where no one
    # answers); names are the proxy's to resolve. A .invalid name: nothing could answer even if a query left.
    allow(sp, "blocked.invalid")
    out = sp.exec("""
import socket
try:
    socket.getaddrinfo('blocked.invalid', 80); print('resolved')
except socket.gaierror as e:
    print('gaierror')
""", check=SUCCESS).stdout
    assert out == "gaierror\n"
