"""RFC 5626 keep-alives on every transport of one server: STUN Binding requests on UDP
(the stun module), the CRLF ping / pong on TCP and TLS (§4.4.1: a double CRLF is
answered with one CRLF, as Kamailio's tcp_read does; the TCP answer is compared with
Kamailio in test_tcp_vs_kamailio.py::test_crlf_keepalive), and over WebSocket a message
that is only CRLF or CRLFCRLF is answered with a CRLF message of the same kind (text or
binary), as Kamailio's websocket module (ws_frame.c) does (the frames compared with
Kamailio in test_ws_keepalive_vs_kamailio.py). After each ping the same connection
still carries SIP."""

from __future__ import annotations

import socket
import ssl
import struct

import pytest
import trustme
from wsproto.events import BytesMessage, TextMessage

from tests.modules.stun.messages import request
from tests.support.ports import free_tcp_port
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

from .stream import read_messages
from .test_websocket import WsClient, sip

pytestmark = [pytest.mark.wire]

CFG = r"""
debug=2
enable_tls=yes
children=1
tcp_children=1
tcp_accept_no_cl=yes
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
listen=tls:127.0.0.1:{tport}
loadmodule "tls"
modparam("tls", "config", "{dir}/tls.cfg")
loadmodule "sl"
loadmodule "xhttp"
loadmodule "websocket"
loadmodule "stun"
event_route[xhttp:request] {
    if ($hdr(Upgrade) =~ "websocket") { ws_handle_handshake(); exit; }
    xhttp_reply("404", "Not Found", "", "");
}
request_route { sl_send_reply("200", "OK"); exit; }
"""

TLS_CFG = """
[server:default]
method = TLSv1.2+
certificate = server.pem
private_key = server.pem
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("ka")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    (d / "tls.cfg").write_text(TLS_CFG)
    with KamapyServer(CFG, children=1, fmt={"dir": str(d), "tport": free_tcp_port()}) as s:
        s.ca = str(d / "ca.pem")
        s.tport = int(s.cfg_path.read_text().split("listen=tls:127.0.0.1:")[1].split()[0])
        yield s


def options(proto: str, lport: int, n: int) -> bytes:
    return (f"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{proto} 127.0.0.1:{lport};branch=z9hG4bK-ka{n}\r\n"
            f"From: <sip:k@127.0.0.1>;tag=k{n}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ka-{n}-{lport}\r\n"
            f"CSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def test_udp_stun_binding(server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
        s.sendto(request(), ("127.0.0.1", server.port))
        out = s.recv(1024)
    assert out[:2] == b"\x01\x01" and out[8:20] == request()[8:20]
    assert struct.unpack_from("!H", out, 22)[0] == 8  # XOR-MAPPED-ADDRESS, IPv4
    with SipClient(("127.0.0.1", server.port)) as c:
        assert c.ping(2.0)


def _stream_ping(sock, proto: str):
    lport = sock.getsockname()[1]
    sock.sendall(b"\r\n\r\n")
    sock.settimeout(2)
    assert sock.recv(16) == b"\r\n"
    sock.sendall(b"\r\n")  # a pong: nothing comes back, the stream stays in step
    sock.sendall(options(proto, lport, 1))
    reply = read_messages(sock, 1)[0]
    assert reply.startswith(b"SIP/2.0 200 OK\r\n"), reply


def test_tcp_crlf_ping(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as s:
        _stream_ping(s, "TCP")


def test_tls_crlf_ping(server):
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", server.tport), timeout=3)
    with ctx.wrap_socket(raw) as s:
        _stream_ping(s, "TLS")


def _ws_events(c: WsClient, timeout: float = 2.0) -> list:
    c.sock.settimeout(timeout)
    data = c.sock.recv(65536)
    c.ws.receive_data(data)
    return [ev for ev in c.ws.events() if isinstance(ev, (TextMessage, BytesMessage))]


@pytest.mark.parametrize("ping", [b"\r\n\r\n", b"\r\n"])
def test_websocket_crlf_message(server, ping):
    c = WsClient(server.port)
    try:
        assert c.accepted
        c.sock.sendall(c.ws.send(TextMessage(data=ping.decode())))
        (ev,) = _ws_events(c)
        assert isinstance(ev, TextMessage) and ev.data == "\r\n"
        c.sock.sendall(c.ws.send(BytesMessage(data=ping)))
        (ev,) = _ws_events(c)
        assert isinstance(ev, BytesMessage) and bytes(ev.data) == b"\r\n"
        c.send(sip("OPTIONS", "sip:127.0.0.1", c.lport, 1))
        (reply,) = c.messages(1)
        assert reply.startswith("SIP/2.0 200 OK\r\n"), reply
    finally:
        c.close()
    assert "Traceback" not in server.log()
