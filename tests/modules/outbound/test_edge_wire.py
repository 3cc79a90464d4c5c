"""RFC 5626 over the wire: a UA registers over TCP with ;ob, reg-id and +sip.instance
through a kamapy edge proxy (outbound + path) to a kamapy registrar; the REGISTER's
Path carries a flow token and ;ob, the 200 says Require: outbound and Flow-Timer; an
INVITE for the user comes back down the UA's own TCP connection through the edge
(loose_route returns 2); once that connection is closed the edge answers 430."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

from .configs import EDGE_CFG, REGISTRAR_CFG, udp_tcp_port
from .stream_ua import StreamUA, header


@pytest.fixture(scope="module")
def servers():
    registrar = KamapyServer(REGISTRAR_CFG, fmt={"outbound_mode": 1})
    edge_port = udp_tcp_port()
    edge = KamapyServer(EDGE_CFG, port=edge_port, fmt={"registrar": registrar.port, "secret": "wire"})
    with registrar, edge:
        yield edge, registrar


def invite(caller: SipClient, user: str, n: int) -> bytes:
    return (f"INVITE sip:{user}@example.com SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {caller.host}:{caller.port};branch=z9hG4bK-inv{n}-{time.time_ns()};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:bob@example.com>;tag=b{n}\r\n"
            f"To: <sip:{user}@example.com>\r\n"
            f"Call-ID: ob-inv-{n}-{time.time_ns()}@{caller.host}\r\n"
            f"CSeq: 1 INVITE\r\n"
            f"Contact: <sip:bob@{caller.host}:{caller.port}>\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def final(caller: SipClient, n: int, timeout: float = 6.0) -> str | None:
    """The final reply to INVITE number n (a retransmitted reply to an earlier one, which
    this caller never ACKs, is skipped)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        data = caller.recv(left)
        if data is None:
            return None
        text = data.decode("latin-1")
        if text.startswith("SIP/2.0 ") and text[8] != "1" and f"Call-ID: ob-inv-{n}-" in text:
            return text
    return None


def test_register_invite_and_430(servers):
    edge, registrar = servers
    ua = StreamUA(("127.0.0.1", edge.port), user="alice")
    try:
        ok = ua.register()
        assert ok is not None and ok.startswith("SIP/2.0 200"), ok
        assert "outbound" in ",".join(header(ok, "Require"))
        assert header(ok, "Flow-Timer") == ["25"]
        # the Path the registrar stored (path_mode 1 returns it): the edge's, with a flow
        # token naming the UA's connection, and ;ob (first hop)
        path = header(ok, "Path")
        assert len(path) == 1 and re.fullmatch(r"<sip:[A-Za-z0-9_-]{31}@127\.0\.0\.1:%d;lr;ob>" % edge.port,
                                               path[0]), path
        # the binding the registrar keeps: its Path is the edge's, with a flow token and ;ob
        contact = header(ok, "Contact")[0]
        assert "reg-id=1" in contact and ua.instance in contact

        with SipClient((registrar.host, registrar.port)) as caller:
            caller.send(invite(caller, "alice", 1))
            inv = ua.read(5)
            assert inv is not None and inv.startswith("INVITE sip:alice@"), inv
            xedge = header(inv, "X-Edge")[0]
            assert "flow=1" in xedge and "lr=2" in xedge, xedge
            assert f"du=sip:127.0.0.1:{ua.port};transport=tcp" in xedge, xedge
            assert not header(inv, "Route")  # the registrar's Route (our Path) was consumed
            # double Record-Route (udp in, tcp out), both with the flow token copied from the Route
            rrs = header(inv, "Record-Route")
            assert len(rrs) == 2, rrs
            tokens = {re.match(r"<sip:([A-Za-z0-9_-]{31})@127\.0\.0\.1:%d[;>]" % edge.port, r).group(1)
                      for r in rrs}
            assert len(tokens) == 1, rrs
            ua.answer(inv, 486, "Busy Here")
            reply = final(caller, 1)
            assert reply is not None and reply.startswith("SIP/2.0 486"), reply

            # the flow is gone: the edge answers 430 Flow Failed (check_flow_token -5)
            ua.close()
            time.sleep(0.5)
            caller.send(invite(caller, "alice", 2))
            reply = final(caller, 2)
            assert reply is not None and reply.startswith("SIP/2.0 430 Flow Failed"), reply
    finally:
        ua.close()


def test_tampered_token_is_403(servers):
    edge, _registrar = servers
    with SipClient((edge.host, edge.port)) as c:
        bad = "A" * 31  # our token's shape, not our MAC
        req = (f"INVITE sip:alice@127.0.0.1 SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{c.port};branch=z9hG4bK-t{time.time_ns()};rport\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-x\r\n"
               f"Route: <sip:{bad}@127.0.0.1:{edge.port};transport=tcp;lr;ob>\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:b@x>;tag=1\r\nTo: <sip:alice@x>\r\n"
               f"Call-ID: tamper-{time.time_ns()}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode()
        reply = c.request(req, 3)
        assert reply is not None and reply.startswith(b"SIP/2.0 403"), reply


def test_udp_flow_reaches_the_ua_behind_its_nat_binding(servers):
    """Over UDP the flow is the UA's source address: the Contact names a private address
    nobody can reach (10.0.0.99), yet the INVITE arrives at the socket the REGISTER came
    from, because the edge's flow token says where that was."""
    edge, registrar = servers
    with SipClient((edge.host, edge.port)) as ua, SipClient((registrar.host, registrar.port)) as caller:
        inst = f"urn:uuid:00000000-0000-0000-0000-{ua.port:012d}"
        reg = (f"REGISTER sip:example.com SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 10.0.0.99:5060;branch=z9hG4bK-u{time.time_ns()};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:carol@example.com>;tag=u1\r\nTo: <sip:carol@example.com>\r\n"
               f"Call-ID: udp-ob-{time.time_ns()}\r\nCSeq: 1 REGISTER\r\nSupported: outbound, path\r\n"
               f'Contact: <sip:carol@10.0.0.99:5060;ob>;reg-id=1;+sip.instance="<{inst}>"\r\n'
               f"Expires: 300\r\nContent-Length: 0\r\n\r\n").encode()
        ok = ua.request(reg, 3)
        assert ok is not None and ok.startswith(b"SIP/2.0 200"), ok
        assert b"Require: outbound" in ok
        caller.send(invite(caller, "carol", 3))
        deadline = time.monotonic() + 3
        inv = None
        while inv is None and time.monotonic() < deadline:
            data = ua.recv(deadline - time.monotonic())
            if data and data.startswith(b"INVITE "):
                inv = data.decode("latin-1")
        assert inv is not None, "the INVITE did not reach the UA's own socket"
        assert f"du=sip:127.0.0.1:{ua.port};transport=udp" in header(inv, "X-Edge")[0]
        assert inv.startswith("INVITE sip:carol@10.0.0.99:5060;ob ")


BAD = [
    # (extra headers, method): malformed Route / Contact where outbound looks
    ("Route: <sip:@127.0.0.1:{edge};lr;ob>\r\n", "INVITE"),
    ("Route: <<<sip:x\r\n", "INVITE"),
    ("Route: <sip:%zz%@127.0.0.1:{edge};lr;ob>\r\n", "INVITE"),
    ("Route: <sip:" + "A" * 63 + "@127.0.0.1:{edge};lr;ob>\r\n", "INVITE"),
    ("Supported: outbound\r\nContact: <sip:;ob\r\n", "INVITE"),
    ("Supported: outbound\r\nContact: ,,,\r\n", "INVITE"),
    ("Contact: <sip:u@[::1;ob>;reg-id=1\r\n", "REGISTER"),
    ("Contact: *\r\n", "REGISTER"),
]


def test_bad_input_gets_an_answer_not_a_traceback(servers):
    edge, _registrar = servers
    with SipClient((edge.host, edge.port)) as c:
        for i, (extra, method) in enumerate(BAD):
            req = (f"{method} sip:alice@127.0.0.1 SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{c.port};branch=z9hG4bK-bad{i}-{time.time_ns()};rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:b@x>;tag=b{i}\r\nTo: <sip:alice@x>\r\n"
                   f"Call-ID: bad-{i}-{time.time_ns()}\r\nCSeq: 1 {method}\r\n"
                   + extra.replace("{edge}", str(edge.port)) + "Content-Length: 0\r\n\r\n").encode()
            c.send(req)
            time.sleep(0.05)
        assert c.ping(2.0), "the edge stopped answering"
    time.sleep(0.3)
    assert "Traceback" not in edge.log(), edge.log()[-3000:]
