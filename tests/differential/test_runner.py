"""The runner itself, without Kamailio: normalisation, templates, the UAS reply, and a
case played against two tiny UDP echo servers that differ, so the corpus can fail."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.differential import runner
from tests.differential.runner import (
    Case,
    CaseError,
    _fill,
    _route_set,
    build_reply,
    diff,
    load_case,
    normalise,
    play,
)


def test_normalise_names_ports_and_hides_server_made_tokens():
    msg = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bK-mine;rport=4000\r\n"
           b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKserver.0\r\n"
           b"To: <sip:b@x>;tag=srv1\r\nFrom: <sip:a@x>;tag=mytag\r\nCall-ID: srv-made\r\n"
           b"Server: kamailio\r\nCSeq: 40000 OPTIONS\r\nContent-Length: 3\r\n\r\nabc")
    out = normalise(msg, {"SERVER": 5060, "CALLER": 4000}, {"z9hG4bK-mine", "mytag"})
    assert out == ["SIP/2.0 200 OK",
                   "Via: SIP/2.0/UDP 127.0.0.1:CALLER;branch=z9hG4bK-mine;rport=CALLER",
                   "Via: SIP/2.0/UDP 127.0.0.1:SERVER;branch=<B>",
                   "To: <sip:b@x>;tag=<T>", "From: <sip:a@x>;tag=mytag", "Call-ID: <CALLID>",
                   "Server: kamailio", "CSeq: 40000 OPTIONS", "Content-Length: 3", "", "abc"]


def test_default_signatures_are_named_not_dropped():
    msg = b"SIP/2.0 200 OK\r\nServer: kamapy (0.1.0 (x86_64/linux))\r\nUser-Agent: kamailio (5.6.3 (x))\r\n\r\n"
    assert normalise(msg, {}, set())[1:3] == ["Server: <PRODUCT>", "User-Agent: <PRODUCT>"]


def test_expires_slack_rounds_only_contact_expires():
    msg = b"SIP/2.0 200 OK\r\nContact: <sip:a@b>;expires=599\r\nExpires: 599\r\n\r\n"
    assert normalise(msg, {}, set(), True)[1:3] == ["Contact: <sip:a@b>;expires=~600", "Expires: 599"]
    assert normalise(msg, {}, set(), False)[1] == "Contact: <sip:a@b>;expires=599"


def test_flow_tokens_read_flow_only_when_asked_and_only_in_route_headers():
    kam = "nxSTYzgDwaRqQsZpAX8AAAF/AAABNow="  # Kamailio's shape: base64 of 23 bytes
    ours = "9_vkyhtTM6W7FQJ_AAABnxR_AAABi_o"   # kamapy's: base64url, unpadded
    msg = (f"SIP/2.0 200 OK\r\nRecord-Route: <sip:{kam}@h;lr>\r\nPath: <sip:{ours}@h;lr;ob>\r\n"
           f"Route: <sip:alice@h;lr>\r\nContact: <sip:{ours}@h>\r\n\r\n").encode()
    out = normalise(msg, {}, set(), flow_tokens=True)
    assert out[1:5] == ["Record-Route: <sip:<FLOW>@h;lr>", "Path: <sip:<FLOW>@h;lr;ob>",
                        "Route: <sip:alice@h;lr>", f"Contact: <sip:{ours}@h>"]
    assert normalise(msg, {}, set())[1] == f"Record-Route: <sip:{kam}@h;lr>"


def test_templates():
    assert _fill("{a}-{{x}}-{b_port}", {"a": "1", "b_port": "2"}) == "1-{x}-2"
    with pytest.raises(CaseError, match="unknown template"):
        _fill("{nope}", {})


def test_route_set_reversed_for_a_reply_not_for_a_request():
    rep = b"SIP/2.0 200 OK\r\nRecord-Route: <sip:p1;lr>, <sip:p2;lr>\r\nRecord-Route: <sip:p3;lr>\r\n\r\n"
    assert _route_set(rep) == "Route: <sip:p3;lr>\r\nRoute: <sip:p2;lr>\r\nRoute: <sip:p1;lr>\r\n"
    req = b"BYE sip:x SIP/2.0\r\nRecord-Route: <sip:p1;lr>\r\nRecord-Route: <sip:p3;lr>\r\n\r\n"
    assert _route_set(req) == "Route: <sip:p1;lr>\r\nRoute: <sip:p3;lr>\r\n"


def test_uas_reply_copies_what_rfc3261_says():
    req = (b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP p;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP c;branch=z9hG4bK2\r\n"
           b"Record-Route: <sip:p;lr>\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\n"
           b"CSeq: 1 INVITE\r\nMax-Forwards: 69\r\nContent-Length: 0\r\n\r\n")
    actor = runner.Actor("callee")
    try:
        out = build_reply(actor, req, {"reply": 180}, {}).decode()
    finally:
        actor.close()
    lines = out.split("\r\n")
    assert lines[0] == "SIP/2.0 180 Ringing"
    assert "To: <sip:b@x>;tag=callee-tag" in lines and "Max-Forwards: 69" not in lines
    assert lines.index("Via: SIP/2.0/UDP p;branch=z9hG4bK1") < lines.index("Via: SIP/2.0/UDP c;branch=z9hG4bK2")
    assert f"Contact: <sip:callee@127.0.0.1:{actor.port}>" in lines


def test_uas_reply_with_every_via_on_one_line():
    req = (b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP p;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n"
           b"Via: SIP/2.0/UDP c;branch=z9hG4bK2\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\r\n")
    actor = runner.Actor("callee")
    try:
        lines = build_reply(actor, req, {"reply": 200, "vias": "one line"}, {}).decode().split("\r\n")
        with pytest.raises(ValueError, match="one line"):
            build_reply(actor, req, {"reply": 200, "vias": "two"}, {})
    finally:
        actor.close()
    assert lines[1] == "Via: SIP/2.0/UDP p;branch=z9hG4bK1, SIP/2.0/UDP c;branch=z9hG4bK2"
    assert [ln for ln in lines if ln.startswith("Via")] == [lines[1]] and lines[2].startswith("From:")


def test_bad_case_files_are_refused(tmp_path: Path):
    bad = tmp_path / "x.toml"
    bad.write_text('config = "stateless"\nsummary = "s"\n[[step]]\nsend = "a"\nexpect = "caller"\n')
    with pytest.raises(CaseError, match="exactly one of"):
        load_case(bad)
    bad.write_text('config = "nosuch"\nsummary = "s"\n[[step]]\nsleep = 0\n')
    with pytest.raises(CaseError, match="no config"):
        load_case(bad)
    bad.write_text('config = "stateless"\nsummary = "s"\nstep = [{expect = "ghost"}]\n')
    with pytest.raises(CaseError, match="not an actor"):
        load_case(bad)


class Echo:
    """A UDP server answering every datagram with a fixed status line + the Call-ID."""

    def __init__(self, status: bytes):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.status, self.stop = status, False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            callid = [ln for ln in data.split(b"\r\n") if ln.startswith(b"Call-ID")][0]
            self.sock.sendto(self.status + b"\r\n" + callid + b"\r\n\r\n", addr)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def test_a_difference_is_found_and_sameness_is_not_a_difference():
    case = Case(id="t1", path=Path("x/t1.toml"), config="stateless", summary="", actors=["caller"],
                steps=[{"send": "OPTIONS sip:{server} SIP/2.0\nCall-ID: {case}\n\n"}, {"expect": "caller"}])
    a, b, c = Echo(b"SIP/2.0 200 OK"), Echo(b"SIP/2.0 404 No"), Echo(b"SIP/2.0 200 OK")
    try:
        ta, tb, tc = (play(case, s.port).normalised() for s in (a, b, c))
    finally:
        for s in (a, b, c):
            s.close()
    assert ta["caller"] == [["SIP/2.0 200 OK", "Call-ID: t1", "", ""]]
    assert diff(ta, tc) == ""
    assert "message 1 differs" in diff(ta, tb)
    assert "sent 1 message(s), kamapy 0" in diff(ta, {"caller": []})
