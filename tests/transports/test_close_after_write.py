"""set_reply_close() / set_forward_close() over the wire, on kamapy and on Kamailio
5.6.3 with the same config (children=2, tcp_children=2): the connection is closed
once the reply or the forwarded request is written -- an sl reply, an xhttp reply, a
tm reply relayed by a UDP worker onto a reader's connection, a stateless forward() and
a t_relay() that open a connection for the request. Without the call the connection
stays open (the control case).
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.ports import free_udp_ports
from tests.support.server import KamapyServer

from .stream import read_messages, reply_to, wait_closed

pytestmark = [pytest.mark.wire]

CFG = r"""
debug=2
children=2
tcp_children=2
tcp_accept_no_cl=yes
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
{mpath_line}
loadmodule "pv{so}"
loadmodule "sl{so}"
loadmodule "tm{so}"
loadmodule "xhttp{so}"
modparam("tm", "fr_timer", 2000)

event_route[xhttp:request] {
    if ($hu =~ "^/close") { set_reply_close(); }
    xhttp_reply("200", "OK", "text/plain", "bye");
}

request_route {
    if ($rU == "keep") { sl_send_reply("200", "OK"); exit; }
    if ($rU == "rclose") { set_reply_close(); sl_send_reply("200", "OK"); exit; }
    if ($rU == "fclose") {
        set_forward_close();
        $du = "sip:127.0.0.1:{tsink};transport=tcp";
        forward();
        exit;
    }
    if ($rU == "tfclose") {
        set_forward_close();
        $du = "sip:127.0.0.1:{tsink};transport=tcp";
        t_relay();
        exit;
    }
    if ($rU == "trclose") {
        set_reply_close();
        $du = "sip:127.0.0.1:{usink}";
        t_relay();
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""

SERVERS = [KamapyServer, pytest.param(KamailioServer, marks=pytest.mark.skipif(
    kamailio_path() is None, reason="kamailio not installed"))]


@pytest.fixture(scope="module", params=SERVERS, ids=["kamapy", "kamailio"])
def net(request):
    cls = request.param
    kam = cls is KamailioServer
    usink, tsink = free_udp_ports(2)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", usink))
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", tsink))
    tcp.listen(8)
    text = CFG.replace("{mpath_line}", 'mpath="{mpath}"' if kam else "").replace("{so}", ".so" if kam else "")
    server = cls(text, fmt={"usink": usink, "tsink": tsink}, **({} if kam else {"children": 2}))
    try:
        with server:
            yield server, udp, tcp
    finally:
        udp.close()
        tcp.close()


def connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=3)


def request(user: str, server, lport: int, n: int, transport: str = "TCP") -> bytes:
    ruri = f"sip:{user}@127.0.0.1:{server.port}"
    return (f"OPTIONS {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:{lport};branch=z9hG4bK-cw{n}-{lport}-{time.time_ns()}\r\n"
            f"From: <sip:c@127.0.0.1>;tag=c{n}\r\nTo: <{ruri}>\r\nCall-ID: cw-{n}-{lport}-{time.time_ns()}\r\n"
            f"CSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


def test_sl_reply_closes_after_write(net):
    server, _, _ = net
    with connect(server) as keep, connect(server) as close:
        keep.sendall(request("keep", server, keep.getsockname()[1], 1))
        close.sendall(request("rclose", server, close.getsockname()[1], 2))
        assert read_messages(close, 1)[0].startswith(b"SIP/2.0 200 OK")
        assert wait_closed(close, 2.0)
        assert read_messages(keep, 1)[0].startswith(b"SIP/2.0 200 OK")
        assert not wait_closed(keep, 0.5)


def test_xhttp_reply_closes_after_write(net):
    server, _, _ = net
    for path, closes in (("/close", True), ("/keep", False)):
        with connect(server) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            s.settimeout(3)
            data = b""
            while b"bye" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"bye"), data
            assert wait_closed(s, 2.0 if closes else 0.5) is closes, path


def test_tm_reply_from_a_udp_worker_closes_the_callers_connection(net):
    """TCP caller, UDP callee: the callee's 200 is handled by a UDP worker, written on
    the connection a TCP reader owns, and then that connection is closed."""
    server, udp, _ = net
    with connect(server) as s:
        s.sendall(request("trclose", server, s.getsockname()[1], 3))
        udp.settimeout(3)
        data, addr = udp.recvfrom(65535)
        udp.sendto(reply_to(data, 200, "OK", "cb"), addr)
        got = read_messages(s, 1)
        assert got and got[0].startswith(b"SIP/2.0 200 OK"), got
        assert wait_closed(s, 2.0)


@pytest.mark.parametrize("user,transport", [("fclose", "UDP"), ("tfclose", "TCP")])
def test_forwarded_request_closes_its_new_connection(net, user, transport):
    """forward() from a UDP worker, t_relay() from a TCP reader: the connection opened
    for the request is closed once the request is written."""
    server, _, tcp = net
    if transport == "UDP":
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.bind(("127.0.0.1", 0))
        c.sendto(request(user, server, c.getsockname()[1], 4, "UDP"), ("127.0.0.1", server.port))
    else:
        c = connect(server)
        c.sendall(request(user, server, c.getsockname()[1], 5))
    try:
        tcp.settimeout(3)
        peer, _ = tcp.accept()
        with peer:
            got = read_messages(peer, 1)
            assert got and got[0].startswith(f"OPTIONS sip:{user}@".encode()), got
            assert wait_closed(peer, 2.0)
    finally:
        c.close()
