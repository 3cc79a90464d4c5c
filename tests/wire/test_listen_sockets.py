"""Listen lines on the wire, kamapy beside Kamailio 5.6 with the same config:
two sockets on one `listen=` line both answer, each from its own port; `advertise`
on a listen line is what Via and Record-Route carry."""

from __future__ import annotations

import re
import socket

import pytest

from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.ports import free_udp_ports
from tests.support.server import KamapyServer

pytestmark = pytest.mark.wire

HEAD = """debug=1
log_stderror=yes
children=1
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
server_signature=no
mpath="{mpath}/"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
"""

TWO = HEAD + """listen=udp:127.0.0.1:{port} udp:127.0.0.1:{port2}
request_route {
    sl_send_reply("200", "OK $Rp");
}
"""

ADVERTISED = "127.0.0.99:5080"  # written into headers only; nothing is sent there
ADV = HEAD + """listen=udp:127.0.0.1:{port} advertise %s name "pub"
request_route {
    if (method == "OPTIONS" && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    record_route();
    $du = "sip:127.0.0.1:{callee}";
    forward();
}
""" % ADVERTISED

SERVERS = [("kamapy", KamapyServer)]
if kamailio_path():
    SERVERS.append(("kamailio", KamailioServer))


def _options(port: int, sock: socket.socket, tag: str) -> tuple[bytes, tuple]:
    me = sock.getsockname()
    msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{me[1]};branch=z9hG4bK-{tag};rport\r\n"
           f"From: <sip:a@127.0.0.1>;tag={tag}\r\nTo: <sip:b@127.0.0.1>\r\n"
           f"Call-ID: {tag}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
           "Content-Length: 0\r\n\r\n").encode()
    sock.sendto(msg, ("127.0.0.1", port))
    return sock.recvfrom(65535)


def _server(cls, cfg, fmt):
    if cls is KamailioServer:
        return KamailioServer(cfg, fmt=fmt)
    return KamapyServer(cfg, children=1, fmt={"mpath": MODULES, **fmt})


@pytest.mark.parametrize("name, cls", SERVERS, ids=[s[0] for s in SERVERS])
def test_two_sockets_on_one_listen_line_both_answer(name, cls):
    port2, = free_udp_ports(1)
    with _server(cls, TWO, {"port2": port2}) as srv, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.bind(("127.0.0.1", 0))
        for port in (srv.port, port2):
            data, src = _options(port, s, f"two-{name}-{port}")
            # answered from the socket it was sent to, and the script saw that port
            assert src == ("127.0.0.1", port)
            assert data.startswith(f"SIP/2.0 200 OK {port}\r\n".encode()), data


def _relayed_invite(cls, name):
    callee, = free_udp_ports(1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", callee))
        rx.settimeout(3)
        tx.bind(("127.0.0.1", 0))
        with _server(cls, ADV, {"callee": callee}) as srv:
            me = tx.getsockname()[1]
            tx.sendto((f"INVITE sip:bob@127.0.0.1:{srv.port} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-adv-{name}\r\n"
                       f"From: <sip:a@127.0.0.1>;tag=adv-{name}\r\nTo: <sip:bob@127.0.0.1>\r\n"
                       f"Call-ID: adv-{name}@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
                       f"Contact: <sip:a@127.0.0.1:{me}>\r\nMax-Forwards: 70\r\n"
                       "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", srv.port))
            data, _ = rx.recvfrom(65535)
    text = data.decode("latin-1")
    vias = re.findall(r"^Via: (.*)\r$", text, re.M)
    rr = re.findall(r"^Record-Route: (.*)\r$", text, re.M)
    return vias, rr


@pytest.mark.parametrize("name, cls", SERVERS, ids=[s[0] for s in SERVERS])
def test_advertise_on_listen_is_in_via_and_record_route(name, cls):
    vias, rr = _relayed_invite(cls, name)
    assert vias[0].startswith(f"SIP/2.0/UDP {ADVERTISED};branch=z9hG4bK"), vias
    assert rr == [f"<sip:{ADVERTISED};lr;ftag=adv-{name}>"], rr


@pytest.mark.skipif(not kamailio_path(), reason="Kamailio is not installed")
def test_advertise_headers_equal_kamailios():
    ours = _relayed_invite(KamapyServer, "kp")
    theirs = _relayed_invite(KamailioServer, "k")
    # our own Via (the branch hash is each server's own) and the Record-Route
    assert re.sub(r"branch=[^;]*", "", ours[0][0]) == re.sub(r"branch=[^;]*", "", theirs[0][0])
    assert [r.replace("ftag=adv-kp", "ftag=T") for r in ours[1]] == \
        [r.replace("ftag=adv-k", "ftag=T") for r in theirs[1]]


class _OneD:
    """Started with a single -D instead of -DD."""

    def command(self):
        cmd, cwd = super().command()
        return [("-D" if a == "-DD" else a) for a in cmd], cwd


class KamapyOneD(_OneD, KamapyServer):
    pass


class KamailioOneD(_OneD, KamailioServer):
    pass


ONE_D = [("kamapy", KamapyOneD)] + ([("kamailio", KamailioOneD)] if kamailio_path() else [])


@pytest.mark.parametrize("name, cls", ONE_D, ids=[s[0] for s in ONE_D])
def test_single_D_serves_only_the_first_socket_from_the_master(name, cls):
    port2, = free_udp_ports(1)
    srv = cls(TWO, fmt={"mpath": MODULES, "port2": port2}) if cls is KamapyOneD else cls(TWO, fmt={"port2": port2})
    with srv, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.bind(("127.0.0.1", 0))
        data, src = _options(srv.port, s, f"oned-{name}")
        assert src == ("127.0.0.1", srv.port) and data.startswith(b"SIP/2.0 200 OK")
        # "using only the first listen address (no fork)": the second port is not served
        s.settimeout(0.5)
        with pytest.raises(OSError):
            _options(port2, s, f"oned2-{name}")
        # no SIP worker processes: the master answered (only timer-type children remain)
        assert srv.proc.poll() is None
        if cls is KamapyOneD:
            assert srv.udp_workers() == []
            assert "using only the first listen address" in srv.log()


MULTI = HEAD + """listen=udp:(127.0.0.1, 127.0.0.2):{port}
request_route {
    sl_send_reply("200", "OK $Ri");
}
"""


@pytest.mark.parametrize("name, cls", SERVERS, ids=[s[0] for s in SERVERS])
def test_multihomed_udp_listen_answers_on_each_address(name, cls):
    # Kamailio 5.6.3 answers on both addresses of udp:(a, b):port, each from its own
    with _server(cls, MULTI, {}) as srv:
        for ip in ("127.0.0.1", "127.0.0.2"):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(3)
                s.bind(("127.0.0.1", 0))
                me = s.getsockname()[1]
                s.sendto((f"OPTIONS sip:{ip}:{srv.port} SIP/2.0\r\n"
                          f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-mh-{name}-{ip}\r\n"
                          f"From: <sip:a@127.0.0.1>;tag=mh\r\nTo: <sip:b@127.0.0.1>\r\n"
                          f"Call-ID: mh-{name}-{ip}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(),
                         (ip, srv.port))
                data, src = s.recvfrom(65535)
                assert src == (ip, srv.port)
                assert data.startswith(f"SIP/2.0 200 OK {ip}\r\n".encode()), data
