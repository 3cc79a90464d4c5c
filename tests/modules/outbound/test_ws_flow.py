"""RFC 5626 outbound over WebSocket on the wire (RFC 7118): a UA on one WebSocket, its
Via and Contact a made-up .invalid host as a browser's are, registers with ;ob,
reg-id and +sip.instance through a kamapy edge (websocket + outbound + path) to a
kamapy registrar; a call for the user comes down that same WebSocket (the flow token
in the Path, then in the Record-Route for the ACK and BYE), and once the WebSocket is
closed the edge answers 430."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

from .configs import EDGE_CFG, REGISTRAR_CFG, udp_tcp_port
from .stream_ua import header
from .test_edge_wire import final, invite
from .ws_ua import WsUA

pytestmark = [pytest.mark.wire]

WS_EDGE_CFG = (EDGE_CFG
               .replace("listen=udp:", "tcp_accept_no_cl=yes\nlisten=udp:")
               .replace('loadmodule "xlog.so"\n',
                        'loadmodule "xlog.so"\nloadmodule "xhttp.so"\nloadmodule "websocket.so"\n')
               .replace("request_route {", "event_route[xhttp:request] {\n"
                        '    if ($hdr(Upgrade) =~ "websocket") { ws_handle_handshake(); exit; }\n'
                        '    xhttp_reply("404", "Not Found", "", "");\n}\n\nrequest_route {', 1))


@pytest.fixture(scope="module")
def servers():
    registrar = KamapyServer(REGISTRAR_CFG, fmt={"outbound_mode": 1})
    edge = KamapyServer(WS_EDGE_CFG, port=udp_tcp_port(), fmt={"registrar": registrar.port, "secret": "ws"})
    with registrar, edge:
        yield edge, registrar


def in_dialog(caller: SipClient, method: str, ok: str, cseq: int) -> bytes:
    """ACK or BYE for the 2xx `ok`: to its Contact, through its Record-Route set."""
    routes = "".join(f"Route: {r}\r\n" for r in header(ok, "Record-Route"))
    target = re.search(r"<([^>]+)>", header(ok, "Contact")[0]).group(1)
    return (f"{method} {target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {caller.host}:{caller.port};branch=z9hG4bK-{method}{time.time_ns()};rport\r\n"
            f"Max-Forwards: 70\r\n{routes}"
            f"From: {header(ok, 'From')[0]}\r\nTo: {header(ok, 'To')[0]}\r\n"
            f"Call-ID: {header(ok, 'Call-ID')[0]}\r\nCSeq: {cseq} {method}\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def test_register_call_and_430_over_a_websocket_flow(servers):
    edge, registrar = servers
    ua = WsUA(("127.0.0.1", edge.port))
    try:
        assert ua.accepted
        ok = ua.register()
        assert ok is not None and ok.startswith("SIP/2.0 200"), ok
        assert "outbound" in ",".join(header(ok, "Require"))
        path = header(ok, "Path")
        assert len(path) == 1 and re.fullmatch(r"<sip:[A-Za-z0-9_-]{31}@127\.0\.0\.1:%d;lr;ob>" % edge.port,
                                               path[0]), path
        assert "reg-id=1" in header(ok, "Contact")[0]

        with SipClient((registrar.host, registrar.port)) as caller:
            caller.send(invite(caller, "alice", 1))
            inv = ua.read_request("INVITE", 5)
            assert inv is not None, "the INVITE did not come down the WebSocket"
            assert inv.startswith(f"INVITE sip:alice@{ua.host};transport=ws;ob SIP/2.0"), inv
            xedge = header(inv, "X-Edge")[0]
            assert "flow=1" in xedge and "lr=2" in xedge, xedge
            assert f"du=sip:127.0.0.1:{ua.port};transport=ws" in xedge, xedge
            assert header(inv, "Via")[0].startswith(f"SIP/2.0/WS 127.0.0.1:{edge.port}"), header(inv, "Via")
            rrs = header(inv, "Record-Route")
            assert len(rrs) == 2 and any("transport=ws" in r for r in rrs), rrs
            ua.answer(inv, 200, "OK")
            reply = final(caller, 1)
            assert reply is not None and reply.startswith("SIP/2.0 200"), reply

            # the ACK and the BYE follow the Record-Route: the edge's token, down the flow
            with SipClient((edge.host, edge.port)) as edge_side:
                edge_side.send(in_dialog(edge_side, "ACK", reply, 1))
                ack = ua.read_request("ACK", 3)
                assert ack is not None and ack.startswith("ACK sip:alice@"), ack
                edge_side.send(in_dialog(edge_side, "BYE", reply, 2))
                bye = ua.read_request("BYE", 3)
                assert bye is not None, "the BYE did not come down the WebSocket"
                ua.answer(bye, 200, "OK")
                deadline = time.monotonic() + 3
                got = None
                while got is None and time.monotonic() < deadline:
                    data = edge_side.recv(deadline - time.monotonic())
                    if data and data.startswith(b"SIP/2.0 200") and b" BYE\r\n" in data:
                        got = data
                assert got is not None, "no 200 to the BYE"

            # the WebSocket is gone: 430 Flow Failed at once
            ua.close()
            time.sleep(0.5)
            caller.send(invite(caller, "alice", 2))
            reply = final(caller, 2)
            assert reply is not None and reply.startswith("SIP/2.0 430 Flow Failed"), reply
    finally:
        ua.close()
    assert "Traceback" not in edge.log()
