"""Differential: a call relayed statefully (record_route + t_relay, loose_route for
in-dialog requests) by Kamailio 5.6 and by kamapy with the same config. What reaches
the callee (the INVITE and the BYE) and what reaches the caller (100, 180, 200, the
BYE's 200) is compared line for line, with the ports and the branch hashes -- which
each server derives from its own state -- taken out."""

from __future__ import annotations

import re
import socket

import pytest

from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer

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
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            t_relay();
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    record_route();
    t_relay();
}
"""

SDP = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


class Peer:
    """A UDP endpoint on loopback (the caller or the callee)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        self.port = self.sock.getsockname()[1]

    def send(self, data: str, port: int):
        self.sock.sendto(data.encode("latin-1"), ("127.0.0.1", port))

    def recv(self) -> str:
        return self.sock.recvfrom(65535)[0].decode("latin-1")

    def close(self):
        self.sock.close()


def headers(msg: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        name, _, value = line.partition(":")
        out.setdefault(name.strip().lower(), []).append(value.strip())
    return out


def reply_to(req: str, code: int, reason: str, to_tag: str, body: str = "") -> str:
    """A reply the callee builds: Vias, Record-Route, From, To (+tag), Call-ID, CSeq."""
    lines = [f"SIP/2.0 {code} {reason}"]
    for line in req.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name in ("via", "record-route", "from", "call-id", "cseq"):
            lines.append(line)
        elif name == "to":
            lines.append(line + (f";tag={to_tag}" if code > 100 and ";tag=" not in line else ""))
    lines.append("Contact: <sip:callee@127.0.0.1:{uport}>")
    lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines) + "\r\n\r\n" + body


def normal(msg: str, ports: dict[str, int]) -> list[str]:
    text = msg.split("\r\n\r\n", 1)[0]
    for name, port in ports.items():
        text = text.replace(str(port), name)
    text = re.sub(r"branch=z9hG4bK[0-9a-zA-Z.]+", "branch=z9hG4bKB", text)
    return [ln for ln in text.split("\r\n") if not ln.lower().startswith(("server:", "user-agent:"))]


def run_call(server) -> list[list[str]]:
    """INVITE (100, 180, 200), ACK, BYE (200) through server: every message each end
    saw, normalized."""
    caller, callee = Peer(), Peer()
    seen = []
    ports = {"SPORT": server.port, "CPORT": caller.port, "UPORT": callee.port}
    try:
        sp = server.port
        invite = (f"INVITE sip:callee@127.0.0.1:{callee.port} SIP/2.0\r\n"
                  f"Via: SIP/2.0/UDP 127.0.0.1:{caller.port};branch=z9hG4bK-inv1;rport\r\n"
                  f"Max-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=c1\r\n"
                  f"To: <sip:callee@127.0.0.1:{callee.port}>\r\nCall-ID: diff-call-1\r\nCSeq: 1 INVITE\r\n"
                  f"Contact: <sip:caller@127.0.0.1:{caller.port}>\r\nContent-Type: application/sdp\r\n"
                  f"Content-Length: {len(SDP)}\r\n\r\n{SDP}")
        caller.send(invite, sp)
        got_invite = callee.recv()
        seen.append(normal(got_invite, ports))
        seen.append(normal(caller.recv(), ports))  # 100 Trying
        for code, reason in ((180, "Ringing"), (200, "OK")):
            callee.send(reply_to(got_invite, code, reason, "u1", SDP if code == 200 else "")
                        .replace("{uport}", str(callee.port)), sp)
            seen.append(normal(caller.recv(), ports))
        rr = headers(got_invite).get("record-route", [])
        route = "".join(f"Route: {r}\r\n" for r in rr)
        for method, cseq, branch in (("ACK", 1, "ack1"), ("BYE", 2, "bye1")):
            caller.send(f"{method} sip:callee@127.0.0.1:{callee.port} SIP/2.0\r\n"
                        f"Via: SIP/2.0/UDP 127.0.0.1:{caller.port};branch=z9hG4bK-{branch};rport\r\n"
                        f"Max-Forwards: 70\r\n{route}From: <sip:caller@127.0.0.1>;tag=c1\r\n"
                        f"To: <sip:callee@127.0.0.1:{callee.port}>;tag=u1\r\nCall-ID: diff-call-1\r\n"
                        f"CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n", sp)
            got = callee.recv()
            seen.append(normal(got, ports))
        callee.send(reply_to(got, 200, "OK", "u1").replace("{uport}", str(callee.port)), sp)
        seen.append(normal(caller.recv(), ports))
    finally:
        caller.close()
        callee.close()
    return seen


def test_relayed_call_as_kamailio_relays_it():
    if kamailio_path() is None:
        pytest.skip("kamailio is not installed")
    with KamailioServer(CFG) as kam:
        want = run_call(kam)
    with KamapyServer(CFG, children=1, fmt={"mpath": MODULES}) as kp:
        got = run_call(kp)
    assert len(got) == len(want) == 7
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, (i, g, w)
