"""Bad input on the stream transports, as one set (issue 16's list), against one kamapy
with UDP, TCP, TLS (require_certificate) and WebSocket listeners:

- 10 MB with no end of headers: closed when the read buffer (tcp_rd_buf_size, 16 KB
  as Kamailio) is full;
- 2,000 idle connections: over tcp_max_connections refused at accept, the rest closed
  after tcp_connection_lifetime;
- one byte a second (slowloris): closed by tcp_msg_read_timeout;
- a TLS client with a certificate from an untrusted CA, or none, where
  require_certificate=1: the handshake fails;
- a WebSocket frame without the client mask, or announcing more than the read buffer.

Each is closed with a log line, the server's RSS and shm stay bounded, and a UDP
OPTIONS pinger running the whole time is answered throughout. The timeouts are set
small in the config (Kamailio's parameters, Kamailio's defaults otherwise).

What Kamailio 5.6.3 does with the same input (run with `-m slow`,
test_same_input_on_kamailio): the same closes and refusals, except the slowloris,
which 5.6 keeps open -- each byte renews tcp_connection_lifetime and 5.6 has no
per-message read timeout (tcp_msg_read_timeout came in 5.7); see D-tcp-1.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.ports import free_udp_ports
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer, descendants
from tests.support.sipclient import SipClient

from .stream import read_messages, wait_closed

trustme = pytest.importorskip("trustme")
pytestmark = [pytest.mark.wire]

LIFETIME = 3          # tcp_connection_lifetime
READ_TIMEOUT = 3      # tcp_msg_read_timeout (kamapy; Kamailio 5.7+)
MAX_CONNS = 1500      # tcp_max_connections: 2,000 idle ones go over it
IDLE = 2000

CFG = r"""
debug=2
children=2
tcp_children=2
enable_tls=yes
tcp_accept_no_cl=yes
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
listen=tls:127.0.0.1:{tport}
tcp_connection_lifetime={lifetime}
tcp_max_connections={maxconn}
{read_timeout}
{mpath_line}
loadmodule "tls{so}"
modparam("tls", "config", "{dir}/tls.cfg")
loadmodule "sl{so}"
loadmodule "pv{so}"
loadmodule "xhttp{so}"
loadmodule "websocket{so}"
loadmodule "jsonrpcs{so}"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")

event_route[xhttp:request] {
    if ($hdr(Upgrade) =~ "websocket") {
        ws_handle_handshake();
        exit;
    }
    xhttp_reply("404", "Not Found", "", "");
}

request_route {
    sl_send_reply("200", "OK");
    exit;
}
"""

TLS_CFG = """
[server:default]
method = TLSv1.2+
certificate = {dir}/server.pem
private_key = {dir}/server.pem
ca_list = {dir}/ca.pem
verify_certificate = yes
require_certificate = yes

[client:default]
verify_certificate = no
"""


def make_server(cls, d: Path):
    kam = cls is KamailioServer
    tport, = free_udp_ports(1)
    (d / "tls.cfg").write_text(TLS_CFG.replace("{dir}", str(d)))
    text = (CFG.replace("{mpath_line}", 'mpath="{mpath}"' if kam else "")
            .replace("{so}", ".so" if kam else "")
            # Kamailio 5.6 has no tcp_msg_read_timeout (a 5.7 parameter)
            .replace("{read_timeout}", "" if kam else f"tcp_msg_read_timeout={READ_TIMEOUT}"))
    server = cls(text, fmt={"tport": tport, "dir": str(d), "lifetime": LIFETIME, "maxconn": MAX_CONNS})
    server.tport = tport
    server.rpc = str(d / "rpc.sock")
    return server


def pki(d: Path):
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    ca.issue_cert("alice.test", common_name="alice").private_key_and_cert_chain_pem.write_to_path(
        str(d / "alice.pem"))
    trustme.CA().issue_cert("mallory.test", common_name="mallory").private_key_and_cert_chain_pem.write_to_path(
        str(d / "mallory.pem"))


class UdpPinger(threading.Thread):
    """OPTIONS over UDP every 0.1 s for the whole module; `gaps()` is the longest time
    between two answers within a window."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.answered: list[float] = []
        self.sent = 0
        self.halt = threading.Event()

    def run(self):
        with SipClient(("127.0.0.1", self.port)) as c:
            while not self.halt.is_set():
                self.sent += 1
                if c.request(c.options(), timeout=1.0):
                    self.answered.append(time.monotonic())
                self.halt.wait(0.1)

    def longest_gap(self, since: float) -> float:
        now = time.monotonic()
        times = [since] + [t for t in self.answered if t >= since] + [now]
        return max(b - a for a, b in zip(times, times[1:], strict=False))


def rss_kb(server) -> int:
    total = 0
    for pid in [server.pid] + descendants(server.pid):
        try:
            with open(f"/proc/{pid}/status") as f:
                m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
        except OSError:
            continue
        total += int(m.group(1)) if m else 0
    return total


def shm_used(server) -> int:
    return int(rpc_call(server.rpc, "core.shmmem")["used"])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    pki(d)
    server = make_server(KamapyServer, d)
    with server:
        pinger = UdpPinger(server.port)
        pinger.start()
        time.sleep(0.3)
        base = (rss_kb(server), shm_used(server))
        yield server, d, pinger, base
        pinger.halt.set()
        pinger.join(3)


def connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=3)


def options_over(sock, port: int, n: int) -> bytes:
    lport = sock.getsockname()[1]
    return (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP 127.0.0.1:{lport};branch=z9hG4bK-bad{n}-{lport}\r\n"
            f"From: <sip:t@127.0.0.1>;tag=b{n}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: bad-{n}-{lport}\r\n"
            f"CSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


# ---------------------------------------------------------------------- the attacks
# Each tells whether (or when) the server closed the bad connection(s); they are used
# on Kamailio too (test_same_input_on_kamailio).

def ten_megabytes(server) -> bool:
    s = connect(server)
    chunk = b"X" * 65536
    try:
        for _ in range(160):     # 10 MB
            s.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass    # closed before all of it went: what we want
    closed = wait_closed(s, 3.0)
    s.close()
    return closed


def idle_connections(server, count: int = IDLE) -> tuple[int, int, float]:
    """(refused at once, closed later, seconds until all were closed)."""
    socks = []
    t0 = time.monotonic()
    try:
        for _ in range(count):
            socks.append(connect(server))
        time.sleep(0.5)
        refused = [s for s in socks if wait_closed(s, 0.001)]
        left = [s for s in socks if s not in set(refused)]
        deadline = time.monotonic() + LIFETIME + 6
        closed = 0
        for s in left:
            if wait_closed(s, max(0.001, deadline - time.monotonic())):
                closed += 1
        return len(refused), closed, time.monotonic() - t0
    finally:
        for s in socks:
            s.close()


def slowloris(server, max_wait: float) -> float | None:
    """One byte a second of an OPTIONS that never ends; seconds until closed, or None
    when still open after max_wait."""
    s = connect(server)
    msg = options_over(s, server.port, 1)[:-4] + b"X-Pad: " + b"y" * 200   # never ends
    t0 = time.monotonic()
    try:
        for b in msg:
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - t0
            if wait_closed(s, 1.0):
                return time.monotonic() - t0
            if time.monotonic() - t0 > max_wait:
                return None
        return None
    finally:
        s.close()


def tls_refused(server, d: Path, cert: str | None) -> bool:
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(str(d / cert))
    raw = socket.create_connection(("127.0.0.1", server.tport), timeout=3)
    try:
        s = ctx.wrap_socket(raw)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        raw.close()
        return True
    try:
        # TLS 1.3: the client's handshake ends before the server has looked at its
        # certificate; the refusal comes as an alert on the first read
        s.sendall(options_over(s, server.tport, 2))
        return not read_messages(s, 1, timeout=3)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.close()


def tls_accepted(server, d: Path) -> bool:
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    ctx.check_hostname = False
    ctx.load_cert_chain(str(d / "alice.pem"))
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.tport), timeout=3)) as s:
        s.sendall(options_over(s, server.tport, 3))
        got = read_messages(s, 1, timeout=3)
    return bool(got) and got[0].startswith(b"SIP/2.0 200 OK")


def ws_connect(server) -> socket.socket:
    s = connect(server)
    s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n").encode())
    s.settimeout(3)
    head = b""
    while b"\r\n\r\n" not in head:
        data = s.recv(4096)
        if not data:
            break
        head += data
    assert head.startswith(b"HTTP/1.1 101"), head[:200]
    return s


def ws_frame_closes(server, frame: bytes, then: bytes = b"") -> bool:
    s = ws_connect(server)
    try:
        s.sendall(frame)
        if then:
            try:
                s.sendall(then)
            except (BrokenPipeError, ConnectionResetError):
                pass
        return wait_closed(s, 3.0)
    finally:
        s.close()


UNMASKED = b"\x81\x05hello"                       # RFC 6455 5.1: a server must close
OVERSIZED = b"\x82\xff" + (1 << 40).to_bytes(8, "big") + b"\x00\x00\x00\x00"   # 1 TB announced
OVERSIZED_BODY = b"x" * 70000                     # more than the read buffer, less than the claim


# ---------------------------------------------------------------------- kamapy
def check_after(server, pinger, base, since: float, what: str, rss_mb: int = 40, shm_kb: int = 512):
    """UDP was answered while `what` ran, and memory is back within bounds."""
    gap = pinger.longest_gap(since)
    assert gap < 1.5, f"UDP OPTIONS unanswered for {gap:.1f} s during {what}"
    rss0, shm0 = base
    rss, shm = rss_kb(server), shm_used(server)
    assert rss - rss0 < rss_mb * 1024, f"RSS grew {(rss - rss0) // 1024} MB during {what}"
    assert shm - shm0 < shm_kb * 1024, f"shm grew {(shm - shm0) // 1024} KB during {what}"


def test_ten_megabytes_without_end_of_headers(env):
    server, _, pinger, base = env
    t0 = time.monotonic()
    assert ten_megabytes(server)
    assert re.search(r"bad stream from 127\.0\.0\.1:\d+: no end of headers within 16384 bytes", server.log())
    check_after(server, pinger, base, t0, "10 MB")


def test_two_thousand_idle_connections(env):
    server, _, pinger, base = env
    t0 = time.monotonic()
    peak = {}

    def watch():   # memory at the peak, while the connections are open
        time.sleep(1.5)
        peak["rss"], peak["shm"] = rss_kb(server), shm_used(server)
        peak["open"] = rpc_call(server.rpc, "core.tcp_info")["opened_connections"]

    w = threading.Thread(target=watch)
    w.start()
    refused, closed, took = idle_connections(server)
    w.join()
    assert refused == IDLE - MAX_CONNS and closed == MAX_CONNS, (refused, closed)
    assert peak["open"] <= MAX_CONNS
    assert took <= LIFETIME + 8
    log = server.log()
    assert f"maximum number of connections exceeded (tcp_max_connections={MAX_CONNS})" in log
    # 1,500 connections held: a few KB each, not a read buffer each
    assert peak["rss"] - base[0] < 60 * 1024, f"RSS +{(peak['rss'] - base[0]) // 1024} MB at the peak"
    assert peak["shm"] - base[1] < 4 * 1024 * 1024
    check_after(server, pinger, base, t0, "2,000 idle connections")
    # closed after the lifetime (logged at debug, as Kamailio): all gone, new ones accepted
    assert rpc_call(server.rpc, "core.tcp_info")["opened_connections"] == 0
    with connect(server) as s:
        s.sendall(options_over(s, server.port, 4))
        assert read_messages(s, 1)[0].startswith(b"SIP/2.0 200 OK")


def test_slowloris_one_byte_a_second(env):
    server, _, pinger, base = env
    t0 = time.monotonic()
    took = slowloris(server, READ_TIMEOUT + 4)
    assert took is not None and READ_TIMEOUT - 0.5 <= took <= READ_TIMEOUT + 3, took
    assert f"not read whole within {READ_TIMEOUT} s (tcp_msg_read_timeout)" in server.log()
    check_after(server, pinger, base, t0, "slowloris")


def test_tls_bad_certificate_with_require_certificate(env):
    server, d, pinger, base = env
    t0 = time.monotonic()
    assert tls_refused(server, d, "mallory.pem")      # signed by a CA the profile does not trust
    assert tls_refused(server, d, None)               # none at all
    time.sleep(0.2)
    fails = re.findall(r"tls handshake with 127\.0\.0\.1:\d+ failed: (.*)", server.log())
    assert len(fails) >= 2, server.log()[-2000:]
    assert any("certificate" in f.lower() for f in fails), fails
    assert tls_accepted(server, d)                    # a trusted one still gets in
    check_after(server, pinger, base, t0, "bad TLS certificates")


def test_websocket_bad_mask_and_oversized_length(env):
    server, _, pinger, base = env
    t0 = time.monotonic()
    assert ws_frame_closes(server, UNMASKED)
    assert ws_frame_closes(server, OVERSIZED, OVERSIZED_BODY)
    log = server.log()
    assert re.search(r"bad websocket frame from 127\.0\.0\.1:\d+: .*mask", log, re.I), log[-2000:]
    assert "larger than the read buffer (16384)" in log
    check_after(server, pinger, base, t0, "bad WebSocket frames")


def test_pinger_answered_throughout(env):
    """Last in the file: every OPTIONS of the whole run was answered (a lost datagram
    or two on a loaded machine allowed)."""
    _, _, pinger, _ = env
    assert pinger.sent > 20 and len(pinger.answered) >= pinger.sent - 3, (pinger.sent, len(pinger.answered))


# ---------------------------------------------------------------------- Kamailio
@pytest.mark.slow
@pytest.mark.skipif(kamailio_path() is None, reason="kamailio not installed")
def test_same_input_on_kamailio(tmp_path):
    """The same list against Kamailio 5.6.3 with the same config: what it closes and
    the log line it gives, so the two stay comparable (figures in docs/transports.md)."""
    pki(tmp_path)
    server = make_server(KamailioServer, tmp_path)
    with server:
        assert ten_megabytes(server)
        assert "buffer overrun" in server.log()
        refused, closed, _ = idle_connections(server)
        assert (refused, closed) == (IDLE - MAX_CONNS, MAX_CONNS), (refused, closed)
        assert "maximum number of connections exceeded" in server.log()
        # 5.6: every byte renews the connection's lifetime; nothing else bounds it
        assert slowloris(server, LIFETIME + 4) is None
        assert tls_refused(server, tmp_path, "mallory.pem")
        assert tls_refused(server, tmp_path, None)
        assert tls_accepted(server, tmp_path)
        assert ws_frame_closes(server, UNMASKED)
        assert ws_frame_closes(server, OVERSIZED, OVERSIZED_BODY)
        with SipClient(("127.0.0.1", server.port)) as c:
            assert c.ping(1.0)
        if os.environ.get("KAMAPY_SHOW_KAMAILIO_LOG"):
            print(server.log())
