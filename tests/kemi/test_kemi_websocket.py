"""etc/kamapy.cfg -A WITH_WEBSOCKETS on both engines over the wire: a wsproto client
upgrades through event_route[xhttp:request] (native) / ksr_xhttp_event (etc/kamapy.py),
REGISTERs over the WebSocket, and a MESSAGE sent from UDP to its AOR arrives framed on
that connection. One server per engine for the module."""

from __future__ import annotations

import socket
import time

import pytest

from tests.support.default_config import ENGINES, engine_args
from tests.support.ports import free_port_block
from tests.support.server import REPO, KamapyServer
from tests.support.sipclient import SipClient
from tests.transports.test_websocket import WsClient, sip

pytestmark = pytest.mark.wire


@pytest.fixture(scope="module", params=ENGINES)
def server(request):
    ws_port = free_port_block(1)
    text = (REPO / "etc" / "kamapy.cfg").read_text()
    text = text.replace("listen=udp:127.0.0.1:5060", "listen=udp:127.0.0.1:{port}")
    args = ["-A", "WITH_WEBSOCKETS", "-A", f"WS_PORT={ws_port}", *engine_args(request.param)]
    with KamapyServer(text, children=2, args=args) as s:
        s.ws_port = ws_port
        yield s


def test_plain_http_on_the_ws_port_gets_404(server):
    with socket.create_connection(("127.0.0.1", server.ws_port), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.settimeout(3)
        assert s.recv(4096).startswith(b"HTTP/1.1 404 Not Found"), server.log()[-1500:]


def test_ws_register_then_message_from_udp_arrives(server):
    c = WsClient(server.ws_port)
    try:
        assert c.accepted, (c.raw, server.log()[-2000:])
        aor = f"sip:wsbob@127.0.0.1:{server.port}"
        contact = "Contact: <sip:wsbob@df7jal23ls0d.invalid;transport=ws>\r\nExpires: 60\r\n"
        reg = sip("REGISTER", f"sip:127.0.0.1:{server.port}", c.lport, 2, contact).replace(
            f"To: <sip:127.0.0.1:{server.port}>", f"To: <{aor}>").replace(
            "From: <sip:w@127.0.0.1>", f"From: <{aor}>")
        c.send(reg)
        got = c.messages(1, 4)
        assert got and got[0].startswith("SIP/2.0 200 OK"), (got, server.log()[-2000:])
        with SipClient(("127.0.0.1", server.port)) as u:
            u.send((f"MESSAGE {aor} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{u.port};"
                    f"branch=z9hG4bK-wsmsg{time.time_ns()};rport\r\nFrom: <sip:alice@127.0.0.1>;tag=a\r\n"
                    f"To: <{aor}>\r\nCall-ID: ws-msg-{c.lport}\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
                    f"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi").encode())
            got = c.messages(1, 4)
        assert got and got[0].startswith("MESSAGE sip:wsbob@df7jal23ls0d.invalid;transport=ws SIP/2.0"), \
            (got, server.log()[-2000:])
        assert got[0].endswith("\r\n\r\nhi")
    finally:
        c.close()


def test_upgrade_with_a_foreign_host_gets_403(server):
    with socket.create_connection(("127.0.0.1", server.ws_port), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Protocol: sip\r\n\r\n")
        s.settimeout(3)
        assert s.recv(4096).startswith(b"HTTP/1.1 403 Forbidden")
    time.sleep(0.2)
    assert "Bad host example.com" in server.log()
