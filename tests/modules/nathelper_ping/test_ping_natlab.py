"""Through a real NAT (tests/support/netlab.py): a UA behind it registers, the router's
UDP binding timeout passes several times, and a call to the UA still reaches it and is
answered because nathelper's pings keep the binding open -- with UDP pings, with SIP pings, and
not at all without pings; and a UA that stops answering SIP pings loses its contact after
keepalive_timeout."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.support.netlab import NatLab, unavailable_reason

from .helpers import UA, PingServer, answer, collect

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

UDP_TIMEOUT = 3

MODES = {
    "udp": 'modparam("nathelper", "natping_interval", 1)\nmodparam("nathelper", "ping_nated_only", 1)\n',
    "sip": ('modparam("nathelper", "natping_interval", 1)\nmodparam("nathelper", "ping_nated_only", 1)\n'
            'modparam("nathelper", "sipping_bflag", 7)\n'
            'modparam("nathelper", "sipping_from", "sip:pinger@kamapy.test")\n'
            'modparam("nathelper", "keepalive_timeout", 3)\n'),
    "none": "",
}


# sip and none take 15-26 s each: slow; udp stays in the default run
@pytest.mark.parametrize("mode", ["udp", pytest.param("sip", marks=pytest.mark.slow),
                                  pytest.param("none", marks=pytest.mark.slow)])
def test_request_reaches_ua_behind_nat_only_with_pings(mode):
    with NatLab(clients=1, udp_timeout=UDP_TIMEOUT) as lab:
        srv = PingServer(MODES[mode], host=lab.server_ip, lab=lab, netns=lab.srv)
        with srv:
            ua = UA("natua", (lab.server_ip, srv.port), sock=lab.socket(lab.clients[0]),
                    host=lab.client_ips[0])
            ua.register(sipping=(mode == "sip"))
            assert srv.contacts()["natua"]["Received"].startswith(f"sip:{lab.public_ip}:")
            ua.received.clear()

            def respond(u, data, addr):  # a real UA answers a SIP ping
                if data.startswith(b"OPTIONS "):
                    u.sock.sendto(answer(data), addr)

            # three and more binding timeouts with no traffic from the UA but ping answers
            collect([ua], 3.5 * UDP_TIMEOUT, respond)
            pings = [d for _, d, _ in ua.received]
            if mode == "udp":
                assert pings and set(pings) == {b"\x00\x00\x00\x00"}
            elif mode == "sip":
                assert pings and all(d.startswith(b"OPTIONS sip:natua@") for d in pings)
            else:
                assert pings == []
            ua.received.clear()
            # someone on the public side calls the UA
            caller = lab.socket(lab.srv)
            caller.bind((lab.server_ip, 0))
            host, port = caller.getsockname()
            caller.sendto((f"INVITE sip:natua@{lab.server_ip}:{srv.port} SIP/2.0\r\n"
                           f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{uuid.uuid4().hex[:10]}\r\n"
                           "Max-Forwards: 70\r\nFrom: <sip:caller@kamapy.test>;tag=c1\r\n"
                           "To: <sip:natua@kamapy.test>\r\n"
                           f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 INVITE\r\n"
                           f"Contact: <sip:caller@{host}:{port}>\r\n"
                           "Content-Length: 0\r\n\r\n").encode(), (lab.server_ip, srv.port))
            deadline = time.monotonic() + 2.5
            got = None
            while time.monotonic() < deadline and got is None:
                data = ua.recv(deadline - time.monotonic())
                if data is not None and data.startswith(b"INVITE "):
                    got = data
            if got is not None:
                # the call is answered: the UA's 200 goes back through the NAT and the proxy
                ua.sock.sendto(answer(got), (lab.server_ip, srv.port))
                caller.settimeout(2.5)
                try:
                    ok = caller.recv(65535)
                except TimeoutError:
                    ok = None
                assert ok is not None and ok.startswith(b"SIP/2.0 200") and b"INVITE" in ok, ok
            caller.close()
            if mode == "none":
                assert got is None, "without pings the NAT binding should have expired"
            else:
                assert got is not None, f"{mode} pings did not keep the NAT binding open"
            if mode == "sip":
                # the UA stops answering (its pings still arrive through the NAT): after
                # keepalive_timeout (+ Kamailio's 10 s grace) its contact is removed
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and "natua" in srv.contacts():
                    collect([ua], 1.0)
                assert "natua" not in srv.contacts(), "an unanswering UA kept its contact"
                assert any(d.startswith(b"OPTIONS ") for _, d, _ in ua.received), "no pings reached it meanwhile"
            ua.close()


@pytest.mark.slow  # 13 s in the NAT lab
@pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets need root (CAP_NET_RAW)")
def test_udpping_from_path_keeps_the_binding_to_the_edge_proxy_open():
    """What udpping_from_path is for: two UAs behind the NAT registered through an edge
    proxy (their only NAT binding is towards the edge); the registrar pings with the
    edge's address as source for the one with a Path, and so keeps that binding open,
    while an ordinary ping from the registrar's own address is dropped by the NAT (no
    binding towards the registrar) and the other UA's binding expires."""
    mp = ('modparam("nathelper", "natping_interval", 1)\nmodparam("nathelper", "ping_nated_only", 1)\n'
          'modparam("nathelper", "udpping_from_path", 1)\n')
    with NatLab(clients=2, udp_timeout=UDP_TIMEOUT) as lab:
        edge_ip = lab.add_public_host()
        edge = lab.socket(lab.srv)
        edge.bind((edge_ip, 5060))
        srv = PingServer(mp, host=lab.server_ip, lab=lab, netns=lab.srv)
        with srv, edge:
            uas, mapped = [], []
            for i, user in enumerate(("pathua", "plainua")):
                ua = UA(user, (lab.server_ip, srv.port), sock=lab.socket(lab.clients[i]), host=lab.client_ips[i])
                ua.sock.sendto(b"hello edge", (edge_ip, 5060))   # the binding the UA has: towards the edge
                edge.settimeout(2)
                _data, addr = edge.recvfrom(100)
                assert addr[0] == lab.public_ip
                mapped.append(addr)
                uas.append(ua)
            # what the edge proxy's forwarded REGISTERs would have stored
            for ua, addr, path in ((uas[0], mapped[0], f"<sip:{edge_ip}:5060;lr>"), (uas[1], mapped[1], "")):
                srv.result("ul.add", "location", ua.user, f"sip:{ua.user}@{addr[0]}:{addr[1]}", 300, 1.0, path,
                           0, 1 << 6, 0xFFFFFFFF, "", f"udp:{lab.server_ip}:{srv.port}")
            for ua in uas:
                ua.received.clear()
            collect(uas, 3.5 * UDP_TIMEOUT)
            with_path, without = ([a for _t, d, a in ua.received if d == b"\x00\x00\x00\x00"] for ua in uas)
            # the raw ping came "from the edge", through the NAT, every second
            assert len(with_path) >= 3 * UDP_TIMEOUT and set(with_path) == {(edge_ip, 5060)}, with_path
            assert without == [], "a ping from the registrar's own address crossed the NAT"
            # the edge can still reach the first UA; the second one's binding is gone
            for addr in mapped:
                edge.sendto(b"call for you", addr)
            got = [ua.recv(1.0) for ua in uas]
            for ua in uas:
                ua.close()
            assert got[0] == b"call for you", "udpping_from_path did not keep the binding to the edge open"
            assert got[1] is None, "the NAT kept a binding nothing refreshed: the lab is not real"
