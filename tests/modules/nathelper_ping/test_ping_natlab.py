"""Through a real NAT (tests/support/netlab.py): a UA behind it registers, the router's
UDP binding timeout passes several times, and a call to the UA still reaches it and is
answered because nathelper's pings keep the binding open -- with UDP pings, with SIP pings, and
not at all without pings."""

from __future__ import annotations

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
            'modparam("nathelper", "sipping_from", "sip:pinger@kamapy.test")\n'),
    "none": "",
}


@pytest.mark.parametrize("mode", ["udp", "sip", "none"])
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
            ua.close()
            if mode == "none":
                assert got is None, "without pings the NAT binding should have expired"
            else:
                assert got is not None, f"{mode} pings did not keep the NAT binding open"
