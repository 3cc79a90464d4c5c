"""The rtpproxy commands on the wire, and the SDP that leaves, compared with Kamailio
5.6.3's: both servers run capture.cfg against a recording fake rtpproxy, get the same
SIP message, and must send the proxy the same command (cookie aside), forward the same
rewritten SDP and return the same verdict."""

from __future__ import annotations

import select
import socket
from pathlib import Path

import pytest

from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer

from .fake import FakeRtpproxy

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(kamailio_path() is None, reason="kamailio is not installed")]

CFG = (Path(__file__).parent / "capture.cfg").read_text()

SDP = ("v=0\r\no=- 1234 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtcp:4001\r\n"
       "a=sendrecv\r\n")
SDP2 = ("v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\nm=audio 5000 RTP/AVP 8\r\n"
        "c=IN IP4 10.0.0.6\r\n")
SDP6 = ("v=0\r\no=- 1 1 IN IP6 2001:db8::5\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\n")
SDPHOLD = ("v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
           "m=audio 4000 RTP/AVP 0\r\n")
ICE = ("v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0\r\na=ice-ufrag:abcd\r\n"
       "a=candidate:1 1 UDP 2130706431 10.0.0.5 4000 typ host\r\n"
       "a=candidate:1 2 UDP 2130706430 10.0.0.5 4001 typ host\r\n"
       "a=remote-candidates:1 10.0.0.7 5000\r\n"
       "m=audio 5000 RTP/AVP 8\r\na=candidate:2 1 UDP 1 10.0.0.5 5000 typ host\r\n")
MARKED = SDP + "a=nortpproxy:yes\r\n"
MULTI = ("--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1\r\n"
         "Content-Type: application/sdp\r\n\r\n" + SDP + "--b1--\r\n")


class Uas:
    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]

    def recv(self, timeout=2.0):
        self.s.settimeout(timeout)
        try:
            return self.s.recvfrom(65536)[0]
        except socket.timeout:
            return None


@pytest.fixture(scope="module")
def pair():
    fk, fp = FakeRtpproxy(), FakeRtpproxy()
    uac, uas = Uas(), Uas()
    with KamailioServer(CFG, fmt={"sock": fk.url, "uas": uas.port}) as kam, \
            KamapyServer(CFG, children=1, fmt={"sock": fp.url, "uas": uas.port,
                                                "mpath": MODULES}) as kp:
        yield (kam, fk), (kp, fp), uac, uas
    fk.close()
    fp.close()


def _msg(kind, method, op, flags, callid, uac_port, proxy_port, *, to_tag=None, body=SDP,
         extra="", ctype="application/sdp"):
    to = "<sip:bob@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    common = ["From: <sip:alice@127.0.0.1>;tag=ft-1", f"To: {to}", f"Call-ID: {callid}",
              f"CSeq: 1 {method}", f"X-Op: {op}", f"X-Flags: {flags}"]
    common += [h for h in extra.split("\r\n") if h]
    if kind == "req":
        lines = [f"{method} sip:bob@127.0.0.1 SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch=z9hG4bK-{callid}-1;rport",
                 "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-second", "Max-Forwards: 70",
                 *common]
    else:
        lines = [f"SIP/2.0 {method}",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{proxy_port};branch=z9hG4bK-{callid}-p",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch=z9hG4bK-{callid}-1;rport",
                 *[c.replace(f"CSeq: 1 {method}", "CSeq: 1 INVITE") for c in common]]
    if body:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def _run(side, uac, uas, case):
    server, fake = side
    kind, method, op, flags, kw = case
    fake.commands.clear()
    data = _msg(kind, method, op, flags, "c-" + str(abs(hash(str(case))) % 10**8), uac.port,
                server.port, **kw)
    uac.s.sendto(data, ("127.0.0.1", server.port))
    # forwarded to the UAS, or answered to the UAC: whichever comes first
    ready, _, _ = select.select([uac.s, uas.s], [], [], 1.2)
    got = ready[0].recvfrom(65536)[0] if ready else None
    text = (got.decode("latin-1") if got else "").replace(f":{fake.port}", ":FAKE")
    head, _, body = text.partition("\r\n\r\n")
    keep = [ln for ln in head.split("\r\n") if ln.lower().startswith(("x-rc", "x-inst", "x-stat",
                                                                     "content-length"))
            or ln.startswith(("SIP/2.0", "INVITE", "ACK", "BYE"))]
    return keep, body, fake.session_commands()


R, P = "req", "rep"
CASES = [
    (R, "INVITE", "offer", "", {}),
    (R, "INVITE", "offer0", "", {}),
    (R, "INVITE", "offer", "r", {}),
    (R, "INVITE", "offer", "ar", {}),
    (R, "INVITE", "offer", "ie", {}),
    (R, "INVITE", "offer", "wco", {}),
    (R, "INVITE", "offer", "z20", {}),
    (R, "INVITE", "offer", "1", {}),
    (R, "INVITE", "offer", "2", {}),
    (R, "INVITE", "offer", "3", {}),
    (R, "INVITE", "offer", "b", {"extra": "X-Extra: xid-7"}),
    (R, "INVITE", "offer", "x", {"body": SDP6}),
    (R, "INVITE", "offer", "x", {}),
    (R, "INVITE", "offer", "", {"body": SDP2}),
    (R, "INVITE", "offer", "c", {"body": SDP2}),
    (R, "INVITE", "offer", "r", {"body": SDPHOLD}),
    (R, "INVITE", "offer", "", {"body": MARKED}),
    (R, "INVITE", "offer", "f", {"body": MARKED}),
    (R, "INVITE", "offer", "", {"body": MULTI, "ctype": "multipart/mixed;boundary=b1"}),
    (R, "INVITE", "offer", "", {"to_tag": "tt-1"}),
    (R, "INVITE", "offer", "l", {"to_tag": "tt-1"}),
    (R, "INVITE", "offer", "l", {}),
    (R, "INVITE", "offer", "q", {}),
    (R, "INVITE", "offer", "", {"body": ""}),
    (R, "INVITE", "offerip", "", {"extra": "X-Ip: 203.0.113.9"}),
    (R, "INVITE", "offer", "", {"extra": "X-Set: 1"}),
    (R, "INVITE", "offer", "", {"body": ICE}),
    (R, "INVITE", "offer", "", {"body": ICE, "extra": "X-Ice: 1"}),
    (R, "INVITE", "offer", "", {"body": ICE, "extra": "X-Ice: 0"}),
    (R, "INVITE", "offer", "", {"body": ICE, "extra": "X-Ice: 2"}),
    (R, "INVITE", "offer", "", {"body": ICE, "extra": "X-Ice: 7"}),
    (R, "ACK", "answer", "", {"to_tag": "tt-2"}),
    (R, "ACK", "answer", "", {}),
    (R, "INVITE", "answer", "", {"to_tag": "tt-2"}),
    (R, "INVITE", "manage", "", {}),
    (R, "INVITE", "manage0", "", {}),
    (R, "ACK", "manage", "", {"to_tag": "tt-3"}),
    (R, "UPDATE", "manage", "", {"to_tag": "tt-3"}),
    (R, "INVITE", "manage", "", {"body": ""}),
    (R, "OPTIONS", "manage", "", {}),
    (R, "BYE", "manage", "", {"to_tag": "tt-4", "body": ""}),
    (R, "CANCEL", "manage", "", {"body": ""}),
    (R, "BYE", "destroy", "", {"to_tag": "tt-4", "body": ""}),
    (R, "BYE", "destroy", "t", {"to_tag": "tt-4", "body": ""}),
    (R, "BYE", "destroy", "1", {"to_tag": "tt-4", "body": ""}),
    (R, "BYE", "destroy", "b", {"to_tag": "tt-4", "body": "", "extra": "X-Extra: xx"}),
    (R, "BYE", "destroy", "q", {"to_tag": "tt-4", "body": ""}),
    (R, "BYE", "unforce", "", {"body": ""}),
    (R, "INFO", "s2uac", "", {"to_tag": "tt-5", "body": ""}),
    (R, "INFO", "s2uac", "", {"body": ""}),
    (R, "INFO", "s2uas", "", {"to_tag": "tt-5", "body": ""}),
    (R, "INFO", "s2uas", "", {"body": ""}),
    (R, "INFO", "stop2uac", "", {"to_tag": "tt-5", "body": ""}),
    (R, "INFO", "stop2uas", "", {"to_tag": "tt-5", "body": ""}),
    (R, "INFO", "rec", "", {"to_tag": "tt-5", "body": ""}),
    (R, "INFO", "rec", "", {"body": ""}),
    (R, "INFO", "stat", "", {"to_tag": "tt-5", "body": ""}),
    (R, "INFO", "stat", "", {"body": ""}),
    (P, "200 OK", "answer", "", {"to_tag": "tt-6"}),
    (P, "200 OK", "answer", "r", {"to_tag": "tt-6"}),
    (P, "200 OK", "offer", "", {"to_tag": "tt-6"}),
    (P, "200 OK", "manage", "", {"to_tag": "tt-6"}),
    (P, "183 Progress", "manage", "", {"to_tag": "tt-6"}),
    (P, "486 Busy", "manage", "", {"to_tag": "tt-6", "body": ""}),
    (P, "200 OK", "rec", "", {"to_tag": "tt-6", "body": ""}),
    (P, "200 OK", "answerip", "", {"to_tag": "tt-6", "extra": "X-Ip: 198.51.100.1"}),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[2]}:{c[3]}:{c[1].split()[0]}-{i}"
                                             for i, c in enumerate(CASES)])
def test_same_commands_and_sdp_as_kamailio(pair, case):
    kam, kp, uac, uas = pair
    want = _run(kam, uac, uas, case)
    got = _run(kp, uac, uas, case)
    assert got == want


def test_the_comparison_sees_commands(pair):
    """Against a vacuous pass: an offer reaches the fake proxy and its answer is in the
    forwarded SDP, on both servers."""
    kam, kp, uac, uas = pair
    case = (R, "INVITE", "offer", "", {})
    for side in (kam, kp):
        keep, body, cmds = _run(side, uac, uas, case)
        assert "X-Rc: 1" in keep
        assert len(cmds) == 1 and cmds[0].startswith("Uc0,8,101 c-")
        assert "c=IN IP4 192.0.2.10" in body and "m=audio 30002 " in body
        assert "a=rtcp:30003" in body and body.endswith("a=nortpproxy:yes\r\n")


def test_ice_relay_candidates_inserted(pair):
    """ice_candidate_priority_avp unset = low priority: two relay candidates before
    the stream's candidates, with the relay's address and ports."""
    kam, kp, uac, uas = pair
    for side in (kam, kp):
        keep, body, _cmds = _run(side, uac, uas, (R, "INVITE", "offer", "", {"body": ICE}))
        assert "a=candidate:1920210 1 UDP 16777215 192.0.2.10 30002 typ relay\r\n" in body
        assert "a=candidate:1920210 2 UDP 16777214 192.0.2.10 30003 typ relay\r\n" in body


def test_unix_socket_node_as_kamailio(tmp_path):
    """A unix: node: the bare command over a stream connection, no cookie; the same
    commands (startup probes included) and the same SDP as Kamailio's."""
    from .fake import UnixFakeRtpproxy
    uac, uas = Uas(), Uas()
    results = []
    for cls, name in ((KamailioServer, "k"), (KamapyServer, "p")):
        fake = UnixFakeRtpproxy(str(tmp_path / f"{name}.sock"))
        try:
            with cls(CFG, children=1, fmt={"sock": fake.url, "uas": uas.port, "mpath": MODULES}) \
                    as srv:
                probes = sorted(set(fake.commands))
                case = (R, "INVITE", "offer", "", {"to_tag": "tt-u"})
                keep, body, cmds = _run((srv, fake), uac, uas, case)
                results.append((probes, [k.replace(fake.path, "P") for k in keep],
                                body.replace(fake.path, "P"),
                                [c.replace(fake.path, "P") for c in cmds]))
        finally:
            fake.close()
    want, got = results
    assert got == want
    assert want[0] == ["V", "VF 20050322", "VF 20071116", "VF 20081102"]
    assert want[3][0].startswith("Uc0,8,101 c-") and "tt-u;1 unix:/tmp/rtpp-timeout" in want[3][0]
