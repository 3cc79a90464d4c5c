"""xhttp and SIP over WebSocket over the wire: a wsproto client does the RFC 6455
handshake through event_route[xhttp:request] / ws_handle_handshake(), then speaks
SIP in frames; plain HTTP requests get xhttp_reply(); bad frames close only their
connection. (kamapy only here; the xhttp reply lines were compared with Kamailio
5.6.3's, the CRLF keep-alive frames are compared side by side in
test_ws_keepalive_vs_kamailio.py, bad frames in test_bad_input.py.)
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Ping, Request, TextMessage

from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

from .stream import read_messages, wait_closed

pytestmark = [pytest.mark.wire]

HERE = Path(__file__).parent
CFG = (HERE / "ws_proxy.cfg").read_text()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    rpc = str(tmp_path_factory.mktemp("ws") / "rpc.sock")
    with KamapyServer(CFG, fmt={"rpc": rpc}) as s:
        s.rpc = rpc
        yield s


class WsClient:
    def __init__(self, port: int, subprotocols=("sip",)):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=3)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{port}", target="/",
                                               subprotocols=list(subprotocols))))
        self.accepted = None
        self.raw = b""
        deadline = time.monotonic() + 3
        while self.accepted is None and time.monotonic() < deadline:
            data = self.sock.recv(65536)
            if not data:
                break
            self.raw += data
            self.ws.receive_data(data)
            for ev in self.ws.events():
                if isinstance(ev, AcceptConnection):
                    self.accepted = ev
                else:
                    self.accepted = False

    @property
    def lport(self) -> int:
        return self.sock.getsockname()[1]

    def send(self, text: str):
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def messages(self, n: int = 1, timeout: float = 3.0) -> list[str]:
        out: list[str] = []
        part = ""
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            self.ws.receive_data(data)
            for ev in self.ws.events():
                if isinstance(ev, (TextMessage, BytesMessage)):
                    part += ev.data if isinstance(ev, TextMessage) else ev.data.decode()
                    if ev.message_finished:
                        out.append(part)
                        part = ""
        return out

    def control(self, timeout: float = 4.0) -> list:
        """Ping / close events that arrive within timeout."""
        out = []
        deadline = time.monotonic() + timeout
        while not out and time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                out.append("eof")
                break
            self.ws.receive_data(data)
            out += [ev for ev in self.ws.events() if isinstance(ev, (Ping, CloseConnection))]
        return out

    def close(self):
        self.sock.close()


def sip(method: str, ruri: str, lport: int, n: int, extra: str = "") -> str:
    return (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/WS client.invalid;branch=z9hG4bK-ws{n}-{lport}\r\n"
            f"From: <sip:w@127.0.0.1>;tag=w{n}\r\nTo: <{ruri}>\r\nCall-ID: ws-{n}-{lport}\r\n"
            f"CSeq: {n} {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n")


def test_xhttp_reply_and_url_skip(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        lport = s.getsockname()[1]
        s.sendall(b"POST /path?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd")
        reply = read_messages(s, 1)[0]
        # the connection stays open for the next request (HTTP/1.1)
        s.sendall(b"GET /skip/me HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n")
        second = read_messages(s, 1)[0]
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert lines[1] == b"Sia: SIP/2.0/TCP 127.0.0.1:%d" % lport
    assert lines[2] == b"Content-Type: text/plain" and lines[3].startswith(b"Server: kamapy")
    assert body == b"hello /path?x=1 from 127.0.0.1 body=abcd"
    assert b"Content-Length: %d" % len(body) in head
    assert second.endswith(b"hello /two from 127.0.0.1 body=")   # /skip/me was skipped


def test_handshake_and_sip_over_websocket(server):
    c = WsClient(server.port)
    try:
        assert c.accepted, c.raw
        assert c.accepted.subprotocol == "sip"
        assert b"HTTP/1.1 101 Switching Protocols\r\n" in c.raw
        c.send(sip("OPTIONS", f"sip:127.0.0.1:{server.port}", c.lport, 1))
        reply = c.messages(1)
        assert reply and reply[0].startswith("SIP/2.0 200 OK"), reply
        assert "Via: SIP/2.0/WS client.invalid;branch=z9hG4bK-ws1-" in reply[0]
        assert "received=127.0.0.1" in reply[0]   # the sent-by is not the source address
    finally:
        c.close()
    time.sleep(0.2)
    assert re.search(r"ws-test: OPTIONS proto=ws conid=\d+", server.log())


def test_registered_websocket_contact_called_from_udp(server):
    """REGISTER over WS with the connection's address as Contact, then an INVITE on
    UDP: lookup() + t_relay() must send it framed on the WebSocket (another process
    owns it), with our Via SIP/2.0/WS."""
    c = WsClient(server.port)
    try:
        aor = f"sip:wsbob@127.0.0.1:{server.port}"
        contact = f"Contact: <sip:wsbob@127.0.0.1:{c.lport};transport=ws>\r\nExpires: 60\r\n"
        reg = sip("REGISTER", f"sip:127.0.0.1:{server.port}", c.lport, 2, contact).replace(
            f"To: <sip:127.0.0.1:{server.port}>", f"To: <{aor}>").replace(
            "From: <sip:w@127.0.0.1>", f"From: <{aor}>")
        c.send(reg)
        assert c.messages(1)[0].startswith("SIP/2.0 200 OK")
        with SipClient(("127.0.0.1", server.port)) as u:
            u.send((f"INVITE {aor} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{u.sock.getsockname()[1]};"
                    f"branch=z9hG4bK-wsinv;rport\r\nFrom: <sip:alice@127.0.0.1>;tag=a\r\nTo: <{aor}>\r\n"
                    f"Call-ID: ws-inv-{c.lport}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                    f"Content-Length: 0\r\n\r\n").encode())
            got = c.messages(1, 4)
        assert got and got[0].startswith(f"INVITE sip:wsbob@127.0.0.1:{c.lport};transport=ws SIP/2.0"), \
            (got, server.log()[-1500:])
        assert re.search(rf"Via: SIP/2.0/WS 127\.0\.0\.1:{server.port};branch=z9hG4bK", got[0])
    finally:
        c.close()


def test_refused_handshakes(server):
    c = WsClient(server.port, subprotocols=("chat",))   # no sip: 400
    try:
        assert not c.accepted and c.raw.startswith(b"HTTP/1.1 400 Unsupported protocol")
    finally:
        c.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"
                  b"Sec-WebSocket-Protocol: sip\r\n\r\n")
        assert read_messages(s, 1)[0].startswith(b"HTTP/1.1 426 Upgrade Required")


def test_bad_frames_close_only_that_connection(server):
    good = WsClient(server.port)
    try:
        # an unmasked client frame (RFC 6455 5.1: the server must close)
        bad = WsClient(server.port)
        bad.sock.sendall(b"\x81\x05hello")
        assert wait_closed(bad.sock, 3)
        bad.close()
        # a frame announcing 2^40 bytes: never buffered beyond tcp_rd_buf_size
        big = WsClient(server.port)
        big.sock.sendall(b"\x82\xff" + (1 << 40).to_bytes(8, "big") + b"\x00\x00\x00\x00" + b"x" * 70000)
        assert wait_closed(big.sock, 3)
        big.close()
        log = server.log()
        assert "bad websocket frame" in log and "larger than the read buffer" in log
        good.send(sip("OPTIONS", f"sip:127.0.0.1:{server.port}", good.lport, 3))
        assert good.messages(1)[0].startswith("SIP/2.0 200 OK")
        with SipClient(("127.0.0.1", server.port)) as u:
            assert u.ping(1.0)
    finally:
        good.close()


def test_keepalive_ping_on_an_idle_websocket(server):
    c = WsClient(server.port)
    try:
        assert c.accepted
        t0 = time.monotonic()
        events = c.control(5)
        assert events and isinstance(events[0], Ping), events
        assert events[0].payload == b"are you there" and time.monotonic() - t0 >= 1.5
    finally:
        c.close()


def test_ws_rpcs_and_statistics(server):
    c = WsClient(server.port)
    try:
        assert c.accepted
        dump = rpc_call(server.rpc, "ws.dump")["connections"]
        mine = [d for d in dump if d["src"] == f"127.0.0.1:{c.lport}"]
        assert len(mine) == 1 and mine[0]["proto"] == "ws"
        conid = mine[0]["id"]
        assert rpc_call(server.rpc, "ws.ping", conid) in (None, {})
        events = c.control(2)
        assert events and isinstance(events[0], Ping)
        rpc_call(server.rpc, "ws.disable")
        refused = WsClient(server.port)
        assert not refused.accepted and refused.raw.startswith(b"HTTP/1.1 503 Service Unavailable")
        refused.close()
        rpc_call(server.rpc, "ws.enable")
        again = WsClient(server.port)
        assert again.accepted
        again.close()
        with pytest.raises(RuntimeError, match="Unknown connection ID"):
            rpc_call(server.rpc, "ws.close", 999999)
        assert rpc_call(server.rpc, "ws.close", conid) in (None, {})
        events = c.control(3)
        assert events and isinstance(events[0], CloseConnection) and events[0].code == 1000
        stats = rpc_call(server.rpc, "stats.get_statistics", "websocket:")
        text = " ".join(stats)
        assert re.search(r"websocket:ws_successful_handshakes = [1-9]", text), stats
        assert re.search(r"websocket:ws_failed_handshakes = [1-9]", text)
        assert re.search(r"websocket:ws_local_closed_connections = [1-9]", text)
    finally:
        c.close()


def test_cors_origin_echoed_and_sip_preferred(server):
    """cors_mode 2: the 101 carries the request's Origin in Access-Control-Allow-Origin
    (before Sec-WebSocket-Protocol, as Kamailio writes it); sip is chosen even when
    offered after another protocol."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  b"Origin: https://phone.example\r\nSec-WebSocket-Protocol: chat, sip\r\n\r\n")
        head = read_messages(s, 1)[0]
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 101 Switching Protocols", head
    i = lines.index(b"Access-Control-Allow-Origin: https://phone.example")
    assert lines[i + 1] == b"Sec-WebSocket-Protocol: sip"
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in lines
