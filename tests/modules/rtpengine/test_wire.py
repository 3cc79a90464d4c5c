"""rtpengine module against a real rtpengine daemon: offer/answer/delete through a
stateful proxy, media relayed through the daemon, rtpengine_manage's choices, the media
commands, $rtpstat, rtp_inst_pvar, extra_id_pv and set_rtpengine_set."""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer

from . import calls as C
from .rtpe import Rtpengine, rtpengine_path

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(rtpengine_path() is None, reason="rtpengine is not installed")]

CFG = (Path(__file__).parent / "proxy.cfg").read_text()


class Proxy(KamapyServer):
    def __init__(self, sock: str, uas_port: int, tout=300, retr=2, disable_tout=60,
                 aggressive=1, extra=""):
        self.rundir = tempfile.mkdtemp(prefix="kprtp")
        text = CFG.replace("request_route {", extra + "request_route {", 1)
        super().__init__(text, children=2, fmt={
            "dir": self.rundir, "sock": sock, "uas": uas_port, "tout": tout, "retr": retr,
            "disable_tout": disable_tout, "aggressive": aggressive})

    def rpc(self, method, *params):
        return rpc_call(os.path.join(self.rundir, "rpc.sock"), method, *params)


@pytest.fixture(scope="module")
def rtpe():
    with Rtpengine(ipv6=True) as r:
        yield r


@pytest.fixture(scope="module")
def setup(rtpe):
    uas, uac = C.Sock(), C.Sock()
    with Proxy(rtpe.url, uas.port) as srv:
        yield srv, uac, uas
    uas.close()
    uac.close()


def media_sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    return s


def establish(srv, uac, uas, callid, flags="replace-origin replace-session-connection",
              caller_rtp=41000, callee_rtp=42000, extra="", reply_flags=None):
    inv = C.invite(srv.port, uac.port, callid, body=C.sdp(port=caller_rtp),
                   extra=f"X-Flags: {flags}\r\n{extra}")
    uac.send(inv, srv.port)
    got = uas.recv_request("INVITE", callid)
    assert got is not None, srv.log()[-2000:]
    reply = C.reply_to(got, 200, "OK", body=C.sdp(port=callee_rtp))
    if reply_flags:
        reply = reply.replace(b"Content-Type:", f"X-Flags: {reply_flags}\r\nContent-Type:".encode(), 1)
    uas.send(reply, srv.port)
    ok = uac.recv()
    assert C.status(ok) == 200, srv.log()[-2000:]
    return got, ok


def bye(srv, uac, uas, callid, extra=""):
    msg = C.in_dialog("BYE", srv.port, uac.port, callid, 2)
    if extra:
        msg = msg.replace(b"Content-Length", extra.encode() + b"Content-Length", 1)
    uac.send(msg, srv.port)
    got = uas.recv_request("BYE", callid, timeout=2.0)
    if got is not None:
        uas.send(C.reply_to(got, 200, "OK"), srv.port)
        return got, uac.recv()
    return got, None


def info(srv, uac, callid, fn):
    msg = C.in_dialog("INFO", srv.port, uac.port, callid, 3)
    msg = msg.replace(b"Content-Length", f"X-Fn: {fn}\r\n".encode() + b"Content-Length", 1)
    uac.send(msg, srv.port)
    return uac.recv()


def test_offer_answer_relay_and_delete(setup, rtpe):
    srv, uac, uas = setup
    callid = f"relay-{uuid.uuid4().hex[:8]}"
    a_rtp, b_rtp = media_sock(), media_sock()
    try:
        a_port, b_port = a_rtp.getsockname()[1], b_rtp.getsockname()[1]
        offer, answer = establish(srv, uac, uas, callid, caller_rtp=a_port, callee_rtp=b_port)
        # each side's SDP now points at rtpengine, not at the other party
        o_ip, o_port = C.media(C.body_of(offer))
        a_ip, a_port2 = C.media(C.body_of(answer))
        assert (o_ip, a_ip) == ("127.0.0.1", "127.0.0.1")
        assert rtpe.port_min <= o_port <= rtpe.port_max, C.body_of(offer)
        assert rtpe.port_min <= a_port2 <= rtpe.port_max, C.body_of(answer)
        assert b"a=rtcp:" in offer and C.header(offer, "X-Inst") == rtpe.url
        assert callid in rtpe.calls()
        # RTP both ways through the relay: caller -> answer port, callee -> offer port
        pkt = bytes([0x80, 0]) + b"\x00\x01" + b"\x00" * 8 + b"\xff" * 160
        for _ in range(5):
            a_rtp.sendto(pkt, ("127.0.0.1", a_port2))
            b_rtp.sendto(pkt, ("127.0.0.1", o_port))
            time.sleep(0.02)
        got_b, src_b = b_rtp.recvfrom(2048)
        got_a, src_a = a_rtp.recvfrom(2048)
        assert got_b[0] == 0x80 and got_a[0] == 0x80
        assert src_b == ("127.0.0.1", o_port) and src_a == ("127.0.0.1", a_port2)
        totals = rtpe.query(callid)["totals"]["RTP"]
        assert totals["packets"] >= 10, totals
        # $rtpstat asks the same call's totals
        stat = info(srv, uac, callid, "stat")
        x = C.header(stat, "X-Stat")
        assert x.startswith("RTP: ") and " packets, 0 errors; RTCP: " in x, x
        assert int(x.split(" bytes, ")[1].split(" packets")[0]) >= 10, x
        _, ok = bye(srv, uac, uas, callid)
        assert C.status(ok) == 200
        assert callid not in rtpe.calls()
    finally:
        a_rtp.close()
        b_rtp.close()


def test_media_commands_on_a_live_call(setup, rtpe):
    srv, uac, uas = setup
    callid = f"media-{uuid.uuid4().hex[:8]}"
    establish(srv, uac, uas, callid)
    try:
        assert C.header(info(srv, uac, callid, "query"), "X-Rc") == "1"
        assert C.header(info(srv, uac, callid, "block"), "X-Rc") == "1"
        assert C.header(info(srv, uac, callid, "unblock"), "X-Rc") == "1"
        # rtpengine cannot open the file: an error reply is a false return
        assert C.header(info(srv, uac, callid, "play"), "X-Rc") == "-1"
        assert "proxy replied with error" in srv.log()
    finally:
        bye(srv, uac, uas, callid)
    # the call is gone: a query now fails
    assert C.header(info(srv, uac, callid, "query"), "X-Rc") == "-1"


def test_flags_reach_the_daemon(setup, rtpe):
    """ICE=remove strips candidates, codec-strip drops a codec, RTP/SAVP asks for SDES
    crypto: rtpengine acted on each flag, so each was mapped into the request."""
    srv, uac, uas = setup
    callid = f"flags-{uuid.uuid4().hex[:8]}"
    offer, _ = establish(srv, uac, uas, callid,
                         flags="replace-origin codec-strip=PCMA RTP/SAVP ICE=remove")
    body = C.body_of(offer)
    try:
        assert "m=audio" in body and "RTP/SAVP 0 101" in body, body
        assert "a=crypto:" in body and "PCMA" not in body, body
    finally:
        bye(srv, uac, uas, callid)


def test_manage_offer_on_invite_answer_on_reply_delete_on_bye(setup, rtpe):
    srv, uac, uas = setup
    callid = f"manage-{uuid.uuid4().hex[:8]}"
    offer, answer = establish(srv, uac, uas, callid, flags="replace-origin", extra="X-Manage: 1\r\n")
    assert rtpe.port_min <= C.media(C.body_of(offer))[1] <= rtpe.port_max
    assert rtpe.port_min <= C.media(C.body_of(answer))[1] <= rtpe.port_max
    assert callid in rtpe.calls()
    bye(srv, uac, uas, callid, extra="X-Manage: 1\r\n")
    assert callid not in rtpe.calls()


def test_set_selection_and_unknown_set(setup, rtpe):
    srv, uac, uas = setup
    callid = f"set-{uuid.uuid4().hex[:8]}"
    establish(srv, uac, uas, callid, extra="X-Set: 7\r\n")
    bye(srv, uac, uas, callid)
    # a set that is not configured: set_rtpengine_set fails, the offer uses set 0 still
    callid = f"noset-{uuid.uuid4().hex[:8]}"
    inv = C.invite(srv.port, uac.port, callid, extra="X-Flags: replace-origin\r\nX-Set: 9\r\n")
    uac.send(inv, srv.port)
    got = uas.recv_request("INVITE", callid)
    assert got is not None
    assert "could not locate rtpengine set 9" in srv.log()
    uas.send(C.reply_to(got, 200, "OK", body=C.sdp(port=42000)), srv.port)
    assert C.status(uac.recv()) == 200


def test_bad_flags_and_missing_body_fail(setup):
    srv, uac, uas = setup
    for flags, line in (("via-branch=bogus", "error processing flag `via-branch' (value 'bogus'): invalid value"),
                        ("repacketize=x", "error processing flag `repacketize' (value 'x'): invalid value")):
        uac.send(C.invite(srv.port, uac.port, f"bad-{uuid.uuid4().hex[:8]}",
                          extra=f"X-Flags: {flags}\r\n"), srv.port)
        r = uac.recv()
        assert C.status(r) == 503 and C.header(r, "X-Rc") == "-1"
        assert line in srv.log(), srv.log()[-1500:]
    uac.send(C.invite(srv.port, uac.port, f"nobody-{uuid.uuid4().hex[:8]}", body=""), srv.port)
    assert C.status(uac.recv()) == 503
    assert "can't extract body from the message" in srv.log()


def test_rpc_show_ping_enable(setup, rtpe):
    srv, _uac, _uas = setup
    nodes = srv.rpc("rtpengine.show", "all")
    assert [(n["url"], n["set"], n["weight"], n["disabled"]) for n in nodes] == \
        [(rtpe.url, 0, 1, 0), (rtpe.url, 7, 1, 0)]
    assert srv.rpc("rtpengine.ping", rtpe.url) == {"url": rtpe.url, "status": "success"}
    assert srv.rpc("rtpengine.enable", rtpe.url, 0)["status"] == "disable"
    shown = srv.rpc("rtpengine.show", rtpe.url)
    assert shown[0]["disabled"] == "1(permanent)" and shown[0]["recheck_ticks"] == "N/A"
    assert srv.rpc("rtpengine.enable", rtpe.url, 1)["status"] == "enable"
    assert srv.rpc("rtpengine.show", rtpe.url)[0]["disabled"] == 0
    with pytest.raises(RuntimeError, match="Instance not found"):
        srv.rpc("rtpengine.show", "udp:127.0.0.1:1")
    with pytest.raises(RuntimeError, match="No Database URL"):
        srv.rpc("rtpengine.reload")


def test_several_media_and_ipv6(setup, rtpe):
    """Two m= lines (audio and video) are both relayed; an IPv6 offer with
    address-family=IP6 comes back with rtpengine's IPv6 address on every line."""
    srv, uac, uas = setup
    two = C.sdp(port=41000) + "m=video 41002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    callid = f"multi-{uuid.uuid4().hex[:8]}"
    uac.send(C.invite(srv.port, uac.port, callid, body=two,
                      extra="X-Flags: replace-origin replace-session-connection\r\n"), srv.port)
    got = uas.recv_request("INVITE", callid)
    body = C.body_of(got)
    ports = [int(p) for p in re.findall(r"^m=\w+ (\d+)", body, re.M)]
    assert len(ports) == 2 and all(rtpe.port_min <= p <= rtpe.port_max for p in ports), body
    assert "H264/90000" in body
    # a 2xx: no hop-by-hop ACK or retransmission is left on the sockets for the next test
    uas.send(C.reply_to(got, 200, "OK", body=two), srv.port)
    assert C.status(uac.recv()) == 200
    v6 = C.sdp(ip="::1", port=41010).replace("IN IP4", "IN IP6")
    callid = f"v6-{uuid.uuid4().hex[:8]}"
    uac.send(C.invite(srv.port, uac.port, callid, body=v6,
                      extra="X-Flags: replace-origin replace-session-connection address-family=IP6\r\n"),
             srv.port)
    got = uas.recv_request("INVITE", callid)
    body = C.body_of(got)
    assert "c=IN IP6 ::1" in body and "IP4" not in body, body
    assert rtpe.port_min <= C.media(body)[1] <= rtpe.port_max
    uas.send(C.reply_to(got, 200, "OK", body=v6), srv.port)
    ok = uac.recv()
    assert C.status(ok) == 200 and "c=IN IP6 ::1" in C.body_of(ok)


def test_control_over_ipv6():
    """An udp6:[::1]:port node: probed at start-up, pinged by RPC, and an offer through it."""
    uas, uac = C.Sock(), C.Sock()
    with Rtpengine(ng_host="::1") as r6, Proxy(r6.url, uas.port) as srv:
        try:
            # the probe line is written by a child, possibly after "kamapy started"
            found = f"rtpengine instance <{r6.url}> found"
            deadline = time.monotonic() + 3
            while found not in srv.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert found in srv.log()
            assert srv.rpc("rtpengine.ping", r6.url)["status"] == "success"
            offer, _ = establish(srv, uac, uas, f"v6ctl-{uuid.uuid4().hex[:8]}")
            assert r6.port_min <= C.media(C.body_of(offer))[1] <= r6.port_max
        finally:
            uas.close()
            uac.close()
