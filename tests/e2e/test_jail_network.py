"""Network isolation: the sandbox has its own network namespace with only a
loopback interface. Services the test runs on the host's loopback (TCP, UDP,
abstract unix sockets) are unreachable; the sandbox's own loopback works.
Only loopback addresses are ever used: no traffic goes anywhere else."""
import json
import socket
import subprocess
import threading
import uuid

import pytest

from conftest import SANDPIT

UNREACHABLE = {"ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "ETIMEDOUT", "EADDRNOTAVAIL", "timeout"}

# Runs inside: reports {"result": errno name / "connected" / "reply" / "no-reply"} as JSON.
CLIENT = r"""
import errno, json, socket
def name(e):
    return errno.errorcode.get(e.errno, "timeout" if isinstance(e, socket.timeout) else str(e))
def tcp(family, host, port):
    s = socket.socket(family, socket.SOCK_STREAM); s.settimeout(3)
    try:
        s.connect((host, port)); return "connected"
    except OSError as e: return name(e)
def udp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.5)
    try:
        s.sendto(b"ping", (host, port)); s.recvfrom(16); return "reply"
    except socket.timeout: return "no-reply"
    except OSError as e: return name(e)
def abstract(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(3)
    try:
        s.connect(path); return "connected"
    except OSError as e: return name(e)
"""


def run_client(sp, call):
    proc = sp.exec(CLIENT + f"print('RESULT ' + json.dumps({call}))", check=0)
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


class Listener:
    """A host-side server on a loopback address that records every contact."""

    def __init__(self, family, kind, address):
        self.sock = socket.socket(family, kind)
        self.sock.bind(address)
        if kind == socket.SOCK_STREAM:
            self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.contacts = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def answers_the_host(self):
        """Sanity check: a host client does reach this listener."""
        with socket.socket(self.sock.family, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(self.sock.getsockname())
        for _ in range(50):
            if self.contacts:
                return self.contacts == ["accept"]
            threading.Event().wait(0.05)
        return False

    @property
    def port(self):
        return self.sock.getsockname()[1]

    def serve(self):
        while not self.stop.is_set():
            try:
                if self.sock.type == socket.SOCK_STREAM:
                    conn, _ = self.sock.accept()
                    self.contacts.append("accept")
                    conn.close()
                else:
                    data, peer = self.sock.recvfrom(64)
                    self.contacts.append(data)
                    self.sock.sendto(b"pong", peer)
            except (socket.timeout, OSError):
                continue

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    made = []

    def make(family, kind, address):
        made.append(Listener(family, kind, address))
        return made[-1]

    yield make
    for l in made:
        l.close()


def test_host_tcp_listener_on_loopback_is_unreachable(sp, listener):
    server = listener(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 0))
    assert server.answers_the_host()
    result = run_client(sp, f"tcp(socket.AF_INET, '127.0.0.1', {server.port})")
    assert result in UNREACHABLE, result
    assert server.contacts == ["accept"]


def test_bash_dev_tcp_to_host_listener_fails(sp, listener):
    server = listener(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 0))
    out = sp.shell(f"exec 5<>/dev/tcp/127.0.0.1/{server.port} && echo CONNECTED || echo REFUSED", check=None)
    assert "REFUSED" in out.stdout and "CONNECTED" not in out.stdout, out.stdout + out.stderr
    assert server.contacts == []


def test_host_tcp6_listener_on_loopback_is_unreachable(sp, listener):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = listener(socket.AF_INET6, socket.SOCK_STREAM, ("::1", 0))
    except OSError:
        pytest.skip("no ::1 on this host")
    assert server.answers_the_host()
    result = run_client(sp, f"tcp(socket.AF_INET6, '::1', {server.port})")
    assert result in UNREACHABLE, result
    assert server.contacts == ["accept"]


def test_host_udp_service_gets_nothing_and_sends_no_reply(sp, listener):
    server = listener(socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0))
    # Sanity: the echo service does answer on the host.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.settimeout(2)
    probe.sendto(b"host", ("127.0.0.1", server.port))
    assert probe.recvfrom(16)[0] == b"pong"
    probe.close()
    result = run_client(sp, f"udp('127.0.0.1', {server.port})")
    assert result in {"no-reply", "ECONNREFUSED"}, result
    assert server.contacts == [b"host"]


def test_host_abstract_unix_socket_is_unreachable(sp, listener):
    """Abstract unix sockets belong to the network namespace."""
    name = f"\0sandpit-e2e-{uuid.uuid4().hex}"
    server = listener(socket.AF_UNIX, socket.SOCK_STREAM, name)
    assert server.answers_the_host()
    result = run_client(sp, f"abstract({name!r})")
    assert result == "ECONNREFUSED", result
    assert server.contacts == ["accept"]


def test_only_loopback_interface_exists(sp):
    out = sp.shell("cat /proc/net/dev", check=0).stdout
    interfaces = [line.split(":")[0].strip() for line in out.splitlines()[2:] if ":" in line]
    assert interfaces == ["lo"]


def test_no_routes_or_neighbours_leave_the_sandbox(sp):
    out = sp.shell("cat /proc/net/route /proc/net/arp; cat /proc/net/if_inet6 2>/dev/null", check=0).stdout
    lines = [l for l in out.splitlines() if l.strip()]
    headers = [l for l in lines if l.startswith(("Iface", "IP address"))]
    assert len(headers) == 2
    assert all(l.split()[0] in ("Iface", "IP", "00000000000000000000000000000001") for l in lines), lines


def test_loopback_inside_works(sp):
    code = (
        "import socket\n"
        "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)\n"
        "cli = socket.create_connection(srv.getsockname(), timeout=5)\n"
        "conn, _ = srv.accept(); cli.sendall(b'x'); print('GOT', conn.recv(1).decode())\n"
    )
    assert "GOT x" in sp.exec(code, check=0).stdout


def test_sandbox_listener_does_not_occupy_the_host_loopback(sp):
    """While the sandbox listens on 127.0.0.1:PORT, the host can still bind that very port."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    code = ("import socket, time\n"
            f"srv = socket.socket(); srv.bind(('127.0.0.1', {port})); srv.listen(1)\n"
            "print('LISTENING', flush=True); time.sleep(1.5)\n")
    proc = subprocess.Popen([SANDPIT, "exec", "-w", str(sp.workspace), "-l", "python", "-c", code],
                            env=sp.env(), cwd=sp.workspace, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "LISTENING"
        with socket.socket() as host:
            host.bind(("127.0.0.1", port))  # EADDRINUSE if the sandbox shared our network stack
    finally:
        proc.communicate(timeout=30)
    assert proc.returncode == 0
