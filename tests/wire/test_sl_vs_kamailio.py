"""Differential: stateless replies built by Kamailio 5.6 and by kamapy from the same
config and the same requests -- rport with and without a value, a Via host that is a
name, several Vias in one line, compact headers, Record-Route (copied for 180..299
only), a To that has a tag, received already there, force_rport(), Max-Forwards 0,
odd spacing. The replies must be the same line for line, but for the To-tag value
(derived from each server's listen port), the Server header and the two ports."""

from __future__ import annotations

import pytest

from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

pytestmark = pytest.mark.wire

CFG = r"""#!KAMAILIO
debug=1
log_stderror=yes
children=1
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}/"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if ($rU == "force") {
        force_rport();
        sl_send_reply("200", "Forced");
        exit;
    }
    if ($rU =~ "^[1-6][0-9][0-9]$") {
        # an int-typed variable: Kamailio takes a PV as a reply code only when its value
        # is an integer ("$rU" itself is a string: Kamailio answers 500, kamapy converts)
        $var(code) = $(rU{s.int});
        sl_send_reply("$var(code)", "Code $rU");
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""

VIA = "SIP/2.0/UDP {h}:{p};branch=z9hG4bK-{n}"
CASES = {
    "rport": ("200", [f"Via: {VIA};rport"], []),
    "no rport": ("200", [f"Via: {VIA}"], []),
    "rport value": ("200", [f"Via: {VIA};rport=1234;received=10.9.9.9"], []),
    "host name": ("200", ["Via: SIP/2.0/UDP client.example.com:{p};branch=z9hG4bK-{n};rport"], []),
    "two in one line": ("200", [f"Via: {VIA};rport, SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-x"], []),
    "two lines": ("200", [f"Via: {VIA};rport", "Via: SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-x"], []),
    "compact": ("200", [f"v: {VIA};rport"], ["compact"]),
    "rr on 180": ("180", [f"Via: {VIA};rport"], ["rr"]),
    "rr on 200": ("200", [f"Via: {VIA};rport"], ["rr"]),
    "rr on 404": ("404", [f"Via: {VIA};rport"], ["rr"]),
    "to tagged": ("200", [f"Via: {VIA};rport"], ["totag"]),
    "force": ("force", [f"Via: {VIA}"], []),
    "max-forwards 0": ("200", [f"Via: {VIA};rport"], ["mf0"]),
    "spaces": ("200", ["Via:   SIP/2.0/UDP   {h}:{p} ;branch=z9hG4bK-{n} ;rport  "], []),
    "rport then a param": ("200", [f"Via: {VIA};rport;x=y"], []),
    "param after branch": ("200", ["Via: SIP/2.0/UDP client.example.com:{p};branch=z9hG4bK-{n};x=y"], []),
    "force, two in one line": ("force", [f"Via: {VIA};x=y, SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-x"], []),
    "100": ("100", [f"Via: {VIA};rport"], []),
    "603": ("603", [f"Via: {VIA};rport"], []),
}


def request(client, name: str) -> bytes:
    user, vias, opts = CASES[name]
    host, port = client.server
    n = name.replace(" ", "-").replace(",", "")
    lines = [f"OPTIONS sip:{user}@{host}:{port} SIP/2.0"]
    lines += [v.format(h=client.host, p=client.port, n=n) for v in vias]
    if "rr" in opts:
        lines += ["Record-Route: <sip:10.0.0.5;lr>", "Record-Route: <sip:10.0.0.6;lr;ftag=x>"]
    lines.append("Max-Forwards: " + ("0" if "mf0" in opts else "70"))
    to_tag = ";tag=already" if "totag" in opts else ""
    if "compact" in opts:
        lines += [f"f: <sip:a@{host}>;tag=1", f"t: <sip:{user}@{host}>{to_tag}", f"i: sl-{n}", "CSeq: 1 OPTIONS"]
    else:
        lines += [f"From: <sip:a@{host}>;tag=1", f"To: <sip:{user}@{host}>{to_tag}", f"Call-ID: sl-{n}",
                  "CSeq: 1 OPTIONS"]
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def first_reply(client, data: bytes) -> bytes | None:
    """The first datagram back (a 1xx too: SipClient.request skips those)."""
    client.send(data)
    client.sock.settimeout(2.0)
    try:
        return client.sock.recvfrom(65535)[0]
    except OSError:
        return None


def normal(reply: bytes | None, client, server_port: int) -> list[str]:
    assert reply is not None, "no reply"
    head = reply.decode("latin-1").split("\r\n\r\n", 1)[0].split("\r\n")
    out = []
    for line in head:
        if line.lower().startswith("server:"):
            continue
        line = line.replace(str(client.port), "CPORT").replace(str(server_port), "SPORT")
        if line.lower().startswith(("to:", "t:")) and ";tag=" in line and "already" not in line:
            line = line[:line.index(";tag=")] + ";tag=T"
        out.append(line)
    return out


@pytest.fixture(scope="module")
def servers():
    if kamailio_path() is None:
        pytest.skip("kamailio is not installed")
    with KamailioServer(CFG) as kam, KamapyServer(CFG, children=1, fmt={"mpath": MODULES}) as kp:
        yield kam, kp


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_stateless_reply_as_kamailio(servers, name):
    kam, kp = servers
    with SipClient(("127.0.0.1", kam.port)) as ck, SipClient(("127.0.0.1", kp.port)) as cp:
        want = normal(first_reply(ck, request(ck, name)), ck, kam.port)
        got = normal(first_reply(cp, request(cp, name)), cp, kp.port)
    assert got == want
