"""The RFC 5626 CRLF keep-alive over WebSocket side by side with Kamailio 5.6.3: the
same config on both (xhttp + websocket), one WebSocket per server carrying a text and
a binary CRLF and CRLFCRLF message, then a SIP OPTIONS. The frames each server sends
back are read off the wire (FIN, opcode, payload) and compared; Kamailio's ws_frame.c
answers a CRLF or CRLFCRLF data message with one CRLF frame of the same opcode."""

from __future__ import annotations

import re
import socket
import time

import pytest
from wsproto.events import BytesMessage, TextMessage

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.server import KamapyServer

from .test_websocket import WsClient, sip

pytestmark = [pytest.mark.wire, pytest.mark.skipif(kamailio_path() is None, reason="kamailio not installed")]

CFG = r"""
debug=2
children=1
tcp_children=1
tcp_accept_no_cl=yes
server_signature=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
{mpath_line}
loadmodule "sl{so}"
loadmodule "pv{so}"
loadmodule "xhttp{so}"
loadmodule "websocket{so}"
event_route[xhttp:request] {
    if ($hdr(Upgrade) =~ "websocket") { ws_handle_handshake(); exit; }
    xhttp_reply("404", "Not Found", "", "");
}
request_route { sl_send_reply("200", "OK"); exit; }
"""

PINGS = [(TextMessage, "\r\n"), (TextMessage, "\r\n\r\n"), (BytesMessage, b"\r\n"), (BytesMessage, b"\r\n\r\n")]


@pytest.fixture(scope="module")
def servers():
    started = {}
    try:
        for cls in (KamailioServer, KamapyServer):
            kam = cls is KamailioServer
            text = CFG.replace("{mpath_line}", 'mpath="{mpath}"' if kam else "").replace("{so}", ".so" if kam else "")
            s = cls(text)
            s.start()
            started[cls.name] = s
        yield started
    finally:
        for s in started.values():
            s.stop()


def read_frames(sock: socket.socket, n: int, timeout: float = 2.0) -> list[tuple[int, int, bytes]]:
    """Up to n server frames (unmasked, RFC 6455 5.1) as (fin, opcode, payload)."""
    buf = b""
    out: list[tuple[int, int, bytes]] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        while len(buf) >= 2:
            ln, at = buf[1] & 0x7F, 2
            if ln == 126:
                ln, at = int.from_bytes(buf[2:4], "big"), 4
            elif ln == 127:
                ln, at = int.from_bytes(buf[2:10], "big"), 10
            if buf[1] & 0x80 or len(buf) < at + ln:
                break
            out.append((buf[0] >> 7, buf[0] & 0x0F, buf[at:at + ln]))
            buf = buf[at + ln:]
        if len(out) >= n:
            break
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        buf += data
    return out


def norm(payload: bytes, port: int, lport: int) -> str:
    text = payload.decode("latin-1").replace(str(lport), "{lport}").replace(str(port), "{port}")
    return re.sub(r"tag=[0-9a-f]{32}\.[0-9a-f]+", "tag=<sl-tag>", text)


def session(server) -> list:
    """Each ping's answer frames, then the OPTIONS reply frame, on one WebSocket."""
    c = WsClient(server.port)
    try:
        assert c.accepted, c.raw
        out = []
        for kind, data in PINGS:
            c.sock.sendall(c.ws.send(kind(data=data)))
            # one frame is expected; a second within the wait would show up here
            out.append(read_frames(c.sock, 2, timeout=1.0))
        c.send(sip("OPTIONS", "sip:127.0.0.1", c.lport, 1))
        (fin, op, payload), = read_frames(c.sock, 1, timeout=3.0)
        out.append((fin, op, norm(payload, server.port, c.lport)))
        return out
    finally:
        c.close()


def test_crlf_pings_then_options(servers):
    got = {name: session(s) for name, s in servers.items()}
    assert got["kamapy"] == got["kamailio"], got
    # a CRLF frame of the ping's opcode (1 text, 2 binary), whether CRLF or CRLFCRLF came
    assert got["kamapy"][:4] == [[(1, 1, b"\r\n")], [(1, 1, b"\r\n")], [(1, 2, b"\r\n")], [(1, 2, b"\r\n")]]
    fin, op, reply = got["kamapy"][4]
    assert (fin, op) == (1, 1) and reply.startswith("SIP/2.0 200 OK\r\n"), reply
    for s in servers.values():
        assert "Traceback" not in s.log()
