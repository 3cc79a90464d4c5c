"""A request that came in over UDP, relayed statefully to a TCP or TLS next hop that
refuses the connection, side by side with Kamailio 5.6 (issue 22). Same config on
both; the caller is a raw UDP socket, the next hop a closed loopback port.

Kamailio's UDP worker connects and writes the first bytes itself (tcpconn_1st_send),
so the kernel's RST fails the send there: t_relay() returns false (-1), tm's delayed
reply 477 goes at once and failure_route does not run. kamapy did the connect in a
TCP reader the worker handed it to, learnt nothing of the failure and answered
fr_timer's 408 from failure_route; now the sending process connects too
(kamapy/net/tcp_connect.py).

What the failure_route sees is in the final reply: it adds `X-F: $T_reply_code` and
answers 500. When the next hop accepts the connection and drops it after our write
(RST or FIN), the request did go out: both wait for fr_timer and
failure_route runs with 408.
"""

from __future__ import annotations

import itertools
import socket
import struct
import threading
import time

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.ports import free_tcp_port
from tests.support.server import KamapyServer

from .stream import StreamReader, reply_to

trustme = pytest.importorskip("trustme")
pytestmark = [pytest.mark.wire, pytest.mark.skipif(kamailio_path() is None, reason="kamailio not installed")]

FR = 1.5   # fr_timer, s: long enough that "at once" (< 1 s) cannot be fr_timer's 408

CFG = r"""
debug=2
children=1
tcp_children=1
enable_tls=yes
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
listen=tls:127.0.0.1:{tport}
server_signature=no
{mpath_line}
loadmodule "pv{so}"
loadmodule "tls{so}"
modparam("tls", "config", "{dir}/tls.cfg")
loadmodule "tm{so}"
loadmodule "tmx{so}"
loadmodule "sl{so}"
loadmodule "xlog{so}"
loadmodule "textops{so}"
loadmodule "corex{so}"
modparam("tm", "fr_timer", 1500)
modparam("tm", "fr_inv_timer", 1500)
request_route {
  if (method=="OPTIONS" && $rU==$null) { sl_send_reply("200","OK"); exit; }
  t_on_failure("F");
  if ($hdr(X-Case) == "du") { $du = $hdr(X-Dst); }
  if ($hdr(X-Case) == "fork") { append_branch("sip:c@127.0.0.1:{cport};transport=tcp"); }
  if ($hdr(X-Case) == "to_tcp") {
    if (!t_relay_to_tcp()) { xlog("L_ERR", "refused-test: $hdr(X-Case) false rc=$rc\n"); }
    exit;
  }
  if ($hdr(X-Case) == "to_tls") {
    if (!t_relay_to_tls()) { xlog("L_ERR", "refused-test: $hdr(X-Case) false rc=$rc\n"); }
    exit;
  }
  if (!t_relay()) { xlog("L_ERR", "refused-test: $hdr(X-Case) false rc=$rc\n"); }
  exit;
}
failure_route[F] {
  xlog("L_ERR", "refused-test: failure_route $T_reply_code\n");
  append_to_reply("X-F: $T_reply_code\r\n");
  t_reply("500", "from failure_route");
}
"""

TLS_CFG = """
[server:default]
method = TLSv1.2+
certificate = {dir}/server.pem
private_key = {dir}/server.pem

[client:default]
method = TLSv1.2+
verify_certificate = no
"""

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("refused-tls")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    (d / "tls.cfg").write_text(TLS_CFG.replace("{dir}", str(d)))
    servers = {}
    try:
        for cls in (KamailioServer, KamapyServer):
            text = CFG.replace("{mpath_line}", 'mpath="{mpath}"' if cls is KamailioServer else "")
            text = text.replace("{so}", ".so" if cls is KamailioServer else "")
            server = cls(text, children=1, fmt={"dir": str(d), "tport": free_tcp_port(),
                                                           "cport": closed_port()})
            servers[cls.name] = server.start()
        yield servers
    finally:
        for s in servers.values():
            s.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connect() gets a RST)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Result:
    def __init__(self, final: bytes | None, took: float, log: str):
        first = final.split(b"\r\n", 1)[0].decode() if final else None
        self.line = first
        self.took = took
        xf = [ln for ln in (final or b"").decode().split("\r\n") if ln.startswith("X-F:")]
        self.xf = xf[0][4:].strip() if xf else None
        self.log = log

    def key(self):
        """What must be the same on both servers."""
        return self.line, self.xf


def send(server, case: str, ruri: str, dst: str = "", method: str = "INVITE",
         timeout: float = FR + 3.0) -> Result:
    """The request from a UDP socket; the first final reply, how long it took, and the
    server's log lines of this request (after a moment for them to be written)."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    lp = u.getsockname()[1]
    cid = f"rf{next(_ids)}-{server.name}"
    msg = (f"{method} {ruri} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bK{cid}\r\n"
           f"From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: {cid}\r\nCSeq: 1 {method}\r\n"
           f"Max-Forwards: 70\r\nContact: <sip:a@127.0.0.1:{lp}>\r\nX-Case: {case}\r\n"
           + (f"X-Dst: {dst}\r\n" if dst else "") + "Content-Length: 0\r\n\r\n").encode()
    before = len(server.log())
    final = None
    t0 = time.monotonic()
    try:
        u.sendto(msg, ("127.0.0.1", server.port))
        while time.monotonic() - t0 < timeout:
            u.settimeout(max(0.05, timeout - (time.monotonic() - t0)))
            try:
                data = u.recv(65535)
            except socket.timeout:
                break
            if not data.startswith(b"SIP/2.0 1"):
                final = data
                break
        took = time.monotonic() - t0
    finally:
        u.close()
    time.sleep(0.2)
    return Result(final, took, server.log()[before:])


def both(pair, fn) -> dict[str, Result]:
    return {name: fn(server) for name, server in pair.items()}


R477 = "SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)"


def assert_477_at_once(out: dict[str, Result], case: str):
    assert {k: r.key() for k, r in out.items()} == {k: (R477, None) for k in out}, \
        {k: (r.key(), r.took) for k, r in out.items()}
    for name, r in out.items():
        assert r.took < 1.0, (name, r.took)
        assert f"refused-test: {case} false rc=-1" in r.log, (name, r.log)
        assert "failure_route" not in r.log, (name, r.log)


@pytest.mark.parametrize("method", ["INVITE", "MESSAGE"])
def test_ruri_transport_tcp_refused(pair, method):
    out = both(pair, lambda s: send(s, "ruri", f"sip:b@127.0.0.1:{closed_port()};transport=tcp",
                                    method=method))
    assert_477_at_once(out, "ruri")


def test_du_transport_tcp_refused(pair):
    out = both(pair, lambda s: send(s, "du", "sip:b@127.0.0.1:9",
                                    dst=f"sip:127.0.0.1:{closed_port()};transport=tcp"))
    assert_477_at_once(out, "du")


def test_t_relay_to_tcp_refused(pair):
    # no transport in the R-URI: t_relay_to_tcp() forces it
    out = both(pair, lambda s: send(s, "to_tcp", f"sip:b@127.0.0.1:{closed_port()}"))
    assert_477_at_once(out, "to_tcp")


def test_ruri_transport_tls_refused(pair):
    out = both(pair, lambda s: send(s, "ruri", f"sip:b@127.0.0.1:{closed_port()};transport=tls"))
    assert_477_at_once(out, "ruri")


def test_t_relay_to_tls_refused(pair):
    out = both(pair, lambda s: send(s, "to_tls", f"sip:b@127.0.0.1:{closed_port()}"))
    assert_477_at_once(out, "to_tls")


class UdpCallee:
    """A UDP UA answering each INVITE with 486 (and absorbing the ACK)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        deadline = time.monotonic() + 15
        while not self.stop and time.monotonic() < deadline:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            if data.startswith(b"INVITE "):
                self.sock.sendto(reply_to(data, 486, "Busy Here", "cb"), addr)

    def close(self):
        self.stop = True
        self.th.join(2)
        self.sock.close()


def test_fork_one_branch_refused(pair):
    """Two branches, one to a refused TCP port (append_branch), one to a UDP callee
    that answers 486:
    t_relay() succeeds (one branch went out) and what the caller and failure_route
    get is the same on both."""
    def run(server):
        callee = UdpCallee()
        try:
            return send(server, "fork", f"sip:b@127.0.0.1:{callee.port}")
        finally:
            callee.close()
    out = both(pair, run)
    assert {k: r.key() for k, r in out.items()} == {k: out["kamailio"].key() for k in out}, \
        {k: (r.key(), r.took) for k, r in out.items()}
    for name, r in out.items():
        assert r.took < 1.0, (name, r.took)
        assert "fork false" not in r.log, (name, r.log)
    assert out["kamapy"].key() == ("SIP/2.0 500 from failure_route", "486"), out["kamapy"].key()


def closing_listener(how: str):
    """A TCP next hop that accepts one connection, waits for the request to arrive
    (so it was written before the drop, however loaded the machine) and drops the
    connection without answering: 'rst' (SO_LINGER 0, nothing read) or 'fin' (the
    request read first). (port, thread, listener)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(3)

    def accept():
        try:
            conn, _ = lsock.accept()
            conn.settimeout(3)
            if how == "rst":
                conn.recv(1, socket.MSG_PEEK)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                StreamReader(conn).messages(1, 3)
        except OSError:
            return
        conn.close()
    th = threading.Thread(target=accept, daemon=True)
    th.start()
    return lsock.getsockname()[1], th, lsock


@pytest.mark.parametrize("how", ["rst", "fin"])
def test_accepted_then_dropped_waits_for_fr_timer(pair, how):
    """The connect succeeds and the request is written before the peer drops the
    connection: nothing tells tm, so both answer from failure_route after fr_timer,
    with $T_reply_code 408. (A peer that drops it before the first write -- accept
    and reset at once, racing the sender -- fails that write: 477 at once, on both;
    seen once under load, so the peer here waits for the request.)"""
    def run(server):
        port, th, lsock = closing_listener(how)
        try:
            return send(server, "ruri", f"sip:b@127.0.0.1:{port};transport=tcp")
        finally:
            th.join(3)
            lsock.close()
    out = both(pair, run)
    assert {k: r.key() for k, r in out.items()} == \
        {k: ("SIP/2.0 500 from failure_route", "408") for k in out}, out
    for name, r in out.items():
        assert FR - 0.3 < r.took < FR + 1.5, (name, r.took)


def test_connection_reset_before_the_next_request(pair):
    """The next hop took a first MESSAGE on a connection and answered it, then reset
    the connection and stopped listening: the second MESSAGE finds no connection,
    the new connect is refused, 477 at once on both."""
    def run(server):
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(4)
        lsock.settimeout(3)
        port = lsock.getsockname()[1]
        ruri = f"sip:b@127.0.0.1:{port};transport=tcp"
        got = {}

        def peer():
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            msgs = StreamReader(conn).messages(1, 3)
            if msgs:
                conn.sendall(reply_to(msgs[0], 200, "OK", "p1"))
            got["first"] = bool(msgs)
            time.sleep(0.2)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        th = threading.Thread(target=peer, daemon=True)
        th.start()
        first = send(server, "ruri", ruri, method="MESSAGE")
        th.join(3)
        lsock.close()
        time.sleep(0.3)   # the reset is read and the connection closed
        second = send(server, "ruri", ruri, method="MESSAGE")
        return first.line, got.get("first"), second
    out = both(pair, run)
    for name, (line, took_first, _second) in out.items():
        assert (line, took_first) == ("SIP/2.0 200 OK", True), (name, line, took_first)
    assert_477_at_once({k: v[2] for k, v in out.items()}, "ruri")
