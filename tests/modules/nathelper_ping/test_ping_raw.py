"""natping_socket and udpping_from_path: UDP pings sent through a raw socket with a
source address that is not the server's (kamapy, and Kamailio 5.6 with the same config
as the oracle). Loopback only; the raw socket needs root, as in Kamailio."""

from __future__ import annotations

import os

import pytest

from .helpers import UA, collect, server

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root (CAP_NET_RAW)")]

KINDS = pytest.mark.parametrize("kind", ["kamapy", "kamailio"])
UDP_PING = b"\x00\x00\x00\x00"
BASE = '''modparam("nathelper", "natping_interval", 1)
modparam("nathelper", "ping_nated_only", 1)
modparam("registrar", "use_path", 1)
'''


def _ping_sources(ua):
    return {addr for _t, d, addr in ua.received if d == UDP_PING}


@KINDS
def test_natping_socket_spoofs_the_source(kind):
    with server(kind, BASE + 'modparam("nathelper", "natping_socket", "127.0.0.1:5999")\n') as srv:
        ua = UA("rawua", ("127.0.0.1", srv.port))
        ua.register()
        ua.received.clear()
        collect([ua], 2.6)
        assert _ping_sources(ua) == {("127.0.0.1", 5999)}, ua.received


@KINDS
def test_udpping_from_path_pings_from_the_path_hop(kind):
    with server(kind, BASE + 'modparam("nathelper", "udpping_from_path", 1)\n') as srv:
        ua = UA("pathua", ("127.0.0.1", srv.port))
        # two hops: with 1 the last one is the source (the edge proxy nearest the UA)
        ua.register(headers="Supported: path\r\nPath: <sip:127.0.0.3:5088;lr>, <sip:127.0.0.2:5077;lr>\r\n")
        ua.received.clear()
        collect([ua], 2.6)
        assert _ping_sources(ua) == {("127.0.0.2", 5077)}, ua.received


@KINDS
def test_udpping_from_path_without_a_path(kind):
    with server(kind, BASE + 'modparam("nathelper", "udpping_from_path", 1)\n') as srv:
        ua = UA("nopath", ("127.0.0.1", srv.port))
        ua.register()
        ua.received.clear()
        collect([ua], 2.6)
        got = _ping_sources(ua)
        if kind == "kamailio":
            # D-nathelper-ping-2: Kamailio sends from an address no Path gave (port 0 here)
            assert got and all(port == 0 for _ip, port in got), got
        else:
            assert got == {("127.0.0.1", srv.port)}, got   # our own socket, as without the parameter


def test_bad_natping_socket_is_refused(tmp_path):
    import subprocess
    import sys

    from tests.support.server import REPO
    cfg = tmp_path / "k.cfg"
    cfg.write_text('listen=udp:127.0.0.1:5999\nloadmodule "sl"\nloadmodule "usrloc"\nloadmodule "nathelper"\n'
                   'modparam("nathelper", "natping_interval", 5)\n'
                   'modparam("nathelper", "natping_socket", "[::1]:5060")\n'
                   "request_route { exit; }\n")
    out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True,
                         text=True, cwd=REPO, timeout=30)
    assert out.returncode != 0
    assert "invalid natping_socket" in out.stdout + out.stderr


def test_path_hop_as_kamailio_counts_it():
    from kamapy_modules.nathelper.rawping import path_hostport
    path = "<sip:127.0.0.3:5088;lr>, <sip:127.0.0.2:5077;lr>,<sip:10.1.1.1>"
    assert path_hostport(path, 1) == "10.1.1.1"        # 1: the last hop
    assert path_hostport(path, 2) == "127.0.0.3:5088"  # N: where the (N-1)-th end falls
    assert path_hostport(path, 3) == "127.0.0.2:5077"
    assert path_hostport("<sip:user@127.0.0.2;lr>", 1) == "user@127.0.0.2"  # then refused as a host
    assert path_hostport("sip:127.0.0.2;lr", 1) is None


def test_raw_packet_headers():
    import socket
    import struct

    from kamapy_modules.nathelper.rawping import _checksum, packet
    pkt = packet(UDP_PING, ("127.0.0.2", 5077), ("127.0.0.1", 40000))
    assert len(pkt) == 32
    ver_ihl, _tos, total, ident, _frag, ttl, proto = struct.unpack("!BBHHHBB", pkt[:10])
    assert (ver_ihl, total, ident, ttl, proto) == (0x45, 32, 23, 69, socket.IPPROTO_UDP)
    assert _checksum(pkt[:20]) == 0                      # a valid header sums to zero
    assert struct.unpack("!HHHH", pkt[20:28]) == (5077, 40000, 12, 0)
    assert pkt[28:] == UDP_PING
