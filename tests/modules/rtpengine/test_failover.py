"""Relays that misbehave and relays that die: a bad answer (garbage, an error
dictionary, silence) is a false return and a log line within tout x retr; with two
daemons in a set a dead one is skipped, shown disabled, and comes back after
rtpengine_disable_tout; weights split calls between two live nodes."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest

from modules.rtpengine import bencode

from . import calls as C
from .rtpe import Rtpengine, rtpengine_path
from .test_wire import Proxy

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(rtpengine_path() is None, reason="rtpengine is not installed")]


class FakeRelay:
    """A UDP ng peer whose answer the test picks: pong to pings (so the node starts
    enabled), then `mode` for everything else."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.mode = "garbage"
        self.requests: list[dict] = []
        self.stop_flag = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    @property
    def url(self):
        return f"udp:127.0.0.1:{self.port}"

    def run(self):
        while not self.stop_flag:
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            cookie, _, rest = data.partition(b" ")
            try:
                req = bencode.decode(rest)
            except bencode.BencodeError:
                continue
            self.requests.append(req)
            if req.get("command") == b"ping":
                out = cookie + b" " + bencode.encode({"result": "pong"})
            elif self.mode == "garbage":
                out = cookie + b" this is not bencode"
            elif self.mode == "error":
                out = cookie + b" " + bencode.encode({"result": "error", "error-reason": "Unknown call-id"})
            elif self.mode == "noresult":
                out = cookie + b" " + bencode.encode({"sdp": "v=0\r\n"})
            elif self.mode == "ok":
                sdp = req.get("sdp", b"v=0\r\n")
                out = cookie + b" " + bencode.encode({"result": "ok", "sdp": sdp})
            elif self.mode == "rich":   # a query answer with every bencode type in it
                out = cookie + b" " + bencode.encode({
                    "result": "ok", "created": 1700000000, "neg": -5,
                    "totals": {"RTP": {"packets": 12, "bytes": 2064, "errors": 0},
                               "RTCP": {"packets": 0, "bytes": 0, "errors": 0}},
                    "tags": {"t1": {"tag": "t1", "medias": [{"index": 1, "flags": ["a", "b"]}]}},
                    "empty": {}, "list": [], "odd": b'q"b\\s\t\x01\xe9'})
            elif self.mode == "prefixcookie":   # as if to request <cookie>9
                out = cookie + b"9 " + bencode.encode({"result": "ok"})
            elif self.mode == "wrongcookie":
                out = b"x" + cookie + b" " + bencode.encode({"result": "ok"})
            else:  # silent
                continue
            self.s.sendto(out, addr)

    def close(self):
        self.stop_flag = True
        self.t.join(1)
        self.s.close()


@pytest.fixture(scope="module")
def fake():
    f = FakeRelay()
    uas, uac = C.Sock(), C.Sock()
    # aggressive_redetection 0: a call tries each node once, so the bound is tout x retr
    with Proxy(f.url, uas.port, tout=200, retr=3, aggressive=0) as srv:
        yield srv, uac, uas, f
    f.close()
    uas.close()
    uac.close()


@pytest.mark.parametrize("mode,line", [
    ("garbage", "failed to decode bencoded reply from proxy: this is not bencode"),
    ("error", "proxy replied with error: Unknown call-id"),
    ("noresult", "No 'result' dictionary entry in response from proxy"),
    ("silent", 'timeout waiting reply for command "offer" from RTPEngine'),
    ("wrongcookie", 'timeout waiting reply for command "offer" from RTPEngine'),
    # Kamailio compares only the cookie's length and takes this one (D-rtpengine-1)
    ("prefixcookie", 'timeout waiting reply for command "offer" from RTPEngine'),
])
def test_bad_answer_is_a_false_return_and_a_log_line(fake, mode, line):
    srv, uac, _uas, relay = fake
    relay.mode = mode
    # a timeout disables the node: enable it again first (it answers pings)
    srv.rpc("rtpengine.enable", relay.url, 1)
    callid = f"bad-{mode}-{uuid.uuid4().hex[:6]}"
    t0 = time.monotonic()
    uac.send(C.invite(srv.port, uac.port, callid, extra="X-Flags: replace-origin\r\n"), srv.port)
    r = uac.recv(timeout=5)
    took = time.monotonic() - t0
    assert C.status(r) == 503 and C.header(r, "X-Rc") == "-1", srv.log()[-1500:]
    assert line in srv.log(), srv.log()[-1500:]
    # never stuck longer than tout x retr (0.2 s x 3), plus slack for a loaded machine
    assert took < 0.6 + 0.9, took
    if mode in ("silent", "wrongcookie", "prefixcookie"):
        assert took >= 0.55, took  # it did wait out every retry
        shown = srv.rpc("rtpengine.show", relay.url)[0]
        assert shown["disabled"] == 1 and 0 < shown["recheck_ticks"] <= 60, shown
        # a second call: the node is disabled, so no proxy at once, no new wait
        t0 = time.monotonic()
        uac.send(C.invite(srv.port, uac.port, callid + "b", extra="X-Flags: replace-origin\r\n"), srv.port)
        assert C.status(uac.recv(timeout=5)) == 503
        assert time.monotonic() - t0 < 0.5
        assert "no available proxies" in srv.log()
    else:
        assert srv.rpc("rtpengine.show", relay.url)[0]["disabled"] == 0


def test_request_dictionary(fake):
    """What the module sends for an offer, key by key."""
    srv, uac, uas, relay = fake
    relay.mode = "error"
    srv.rpc("rtpengine.enable", relay.url, 1)
    relay.requests.clear()
    callid = f"dict-{uuid.uuid4().hex[:6]}"
    flags = ("replace-origin replace-session-connection trust-address ICE=force "
             "RTP/SAVPF DTLS=passive SDES-off direction=internal direction=external "
             "address-family=IP6 codec-strip=PCMA codec-mask-PCMU transcode-G722 "
             "rtcp-mux-demux T38-decode TOS=184 delete-delay=5 repacketize=20 "
             "via-branch=1 record-call=yes")
    uac.send(C.invite(srv.port, uac.port, callid, extra=f"X-Flags: {flags}\r\n",
                      branch="z9hG4bKdict1"), srv.port)
    assert C.status(uac.recv()) == 503
    req = next(r for r in relay.requests if r.get("command") == b"offer")
    assert req["call-id"] == callid.encode() and req["from-tag"] == b"ftag1"
    assert "to-tag" not in req
    assert req["replace"] == [b"origin", b"session-connection"]
    assert req["flags"] == [b"trust-address"]
    assert req["ICE"] == b"force" and req["DTLS"] == b"passive"
    assert req["transport-protocol"] == b"RTP/SAVPF"
    assert req["SDES"] == [b"off"] and req["rtcp-mux"] == [b"demux"] and req["T.38"] == [b"decode"]
    assert req["direction"] == [b"internal", b"external"]
    assert req["address-family"] == b"IP6"
    assert req["codec"] == {"strip": [b"PCMA"], "mask": [b"PCMU"], "transcode": [b"G722"]}
    assert req["TOS"] == 184 and req["delete delay"] == 5 and req["delete-delay"] == b"5"
    assert req["repacketize"] == 20 and req["record-call"] == b"yes"
    assert req["via-branch"] == b"z9hG4bKdict1"
    assert req["received-from"] == [b"IP4", b"127.0.0.1"]
    assert req["supports"] == [b"load limit"]
    assert req["sdp"].startswith(b"v=0\r\n")


@pytest.fixture(scope="module")
def two():
    # 200 calls of 4 ports each on the busier node: room for all of them
    a, b = Rtpengine(media_ports=1000), Rtpengine(media_ports=1000)
    a.start()
    b.start()
    uas, uac = C.Sock(), C.Sock()
    extra = f'modparam("rtpengine", "rtpengine_sock", "3 == {a.url}=1 {b.url}=3")\n'
    try:
        with Proxy(a.url, uas.port, tout=200, retr=2, disable_tout=2, aggressive=0,
                   extra=extra) as srv:
            yield srv, uac, uas, a, b
    finally:
        a.stop()
        b.stop()
        uas.close()
        uac.close()


def _call(srv, uac, uas, callid) -> int:
    """One INVITE through set 3, answered 200 with SDP (a 2xx: tm retransmits nothing
    and sends no hop-by-hop ACK, so the sockets stay clean); the caller's final status."""
    uac.send(C.invite(srv.port, uac.port, callid, extra="X-Flags: replace-origin\r\nX-Set: 3\r\n"), srv.port)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        got = uas.recv(timeout=0.3)
        if got is not None and got.startswith(b"INVITE") and callid.encode() in got:
            uas.send(C.reply_to(got, 200, "OK", body=C.sdp(port=42000)), srv.port)
            break
        r = uac.recv(timeout=0.01)
        if r is not None and callid.encode() in r:
            return C.status(r) or 0
    while True:
        r = uac.recv(timeout=2)
        if r is None or callid.encode() in r:
            return C.status(r) or 0


def test_weights_split_calls(two):
    srv, uac, uas, a, b = two
    before = (len(a.calls()), len(b.calls()))
    n = 200
    for i in range(n):
        assert _call(srv, uac, uas, f"w{i}-{uuid.uuid4().hex}") == 200
    got_a, got_b = len(a.calls()) - before[0], len(b.calls()) - before[1]
    assert got_a + got_b == n
    # weights 1:3 -> a quarter to a, within +-10 % of the calls
    assert abs(got_a - n / 4) <= n * 0.10, (got_a, got_b)


def test_dead_node_failover_disabled_and_back(two):
    srv, uac, uas, a, b = two
    url_a = a.url
    a.stop()
    # every new call still gets a relay; the first one hashed to a waits out a's
    # timeout (tout 0.2 s x retr 2) and goes to b; a is then shown disabled
    slowest = 0.0
    for i in range(40):
        t0 = time.monotonic()
        assert _call(srv, uac, uas, f"fo{i}-{uuid.uuid4().hex}") == 200, srv.log()[-1500:]
        slowest = max(slowest, time.monotonic() - t0)
        shown = {(n["url"], n["set"]): n for n in srv.rpc("rtpengine.show", "all")}
        if shown[(url_a, 3)]["disabled"] == 1:
            break
    assert shown[(url_a, 3)]["disabled"] == 1, shown
    assert 0.4 <= slowest < 0.4 + 1.0, slowest
    assert shown[(b.url, 3)]["disabled"] == 0
    # restart a on the same ports; after disable_tout (2 s) the next selection re-pings it
    a.start()
    time.sleep(2.2)
    got_a = 0
    before = len(a.calls())
    for i in range(40):
        _call(srv, uac, uas, f"back{i}-{uuid.uuid4().hex}")
    got_a = len(a.calls()) - before
    shown = {(n["url"], n["set"]): n for n in srv.rpc("rtpengine.show", "all")}
    assert shown[(url_a, 3)]["disabled"] == 0, shown
    assert got_a > 0
    assert "support for it re-enabled" in srv.log()


def test_queried_nodes_limit_stops_the_failover():
    """queried_nodes_limit 1: a node that times out is not followed by the next one of
    the set; the call fails at once with Kamailio's line."""
    r1, r2 = FakeRelay(), FakeRelay()
    r1.mode = r2.mode = "silent"
    uas, uac = C.Sock(), C.Sock()
    extra = (f'modparam("rtpengine", "rtpengine_sock", "5 == {r1.url} {r2.url}")\n'
             'modparam("rtpengine", "queried_nodes_limit", 1)\n')
    try:
        with Proxy(r1.url, uas.port, tout=200, retr=1, aggressive=0, extra=extra) as srv:
            for r in (r1, r2):
                r.requests.clear()
            t0 = time.monotonic()
            uac.send(C.invite(srv.port, uac.port, f"limit-{uuid.uuid4().hex[:6]}",
                              extra="X-Flags: replace-origin\r\nX-Set: 5\r\n"), srv.port)
            assert C.status(uac.recv(timeout=5)) == 503
            assert time.monotonic() - t0 < 0.2 + 0.9
            offers = [r for relay in (r1, r2) for r in relay.requests if r.get("command") == b"offer"]
            assert len(offers) == 1, offers
            assert "queried nodes limit reached" in srv.log()
    finally:
        r1.close()
        r2.close()
        uas.close()
        uac.close()


@pytest.mark.parametrize("how", ["X-Manage: 1", "X-Manage-Branch: 1"])
def test_manage_sends_answer_for_the_2xx_of_an_sdp_invite(fake, how):
    """rtpengine_manage() on the INVITE (in request_route before t_relay, or in
    branch_route as the stock config does) marks it as the offer, so its 200's SDP is
    sent as an answer; for an INVITE without SDP the 200's SDP is the offer."""
    srv, uac, uas, relay = fake
    relay.mode = "ok"
    srv.rpc("rtpengine.enable", relay.url, 1)
    for with_sdp, commands in ((True, [b"offer", b"answer"]), (False, [b"offer"])):
        relay.requests.clear()
        callid = f"mg-{uuid.uuid4().hex[:8]}"
        body = None if with_sdp else ""
        uac.send(C.invite(srv.port, uac.port, callid, body=body,
                          extra=f"X-Flags: replace-origin\r\n{how}\r\n"), srv.port)
        got = uas.recv_request("INVITE", callid)
        assert got is not None, srv.log()[-1500:]
        uas.send(C.reply_to(got, 200, "OK", body=C.sdp(port=42000)), srv.port)
        assert C.status(uac.recv()) == 200
        sent = [r["command"] for r in relay.requests if r.get("command") != b"ping"]
        assert sent == commands, (with_sdp, sent)
        if not with_sdp:
            # the late offer comes from the callee: its tags are swapped
            offer = relay.requests[-1]
            assert offer["from-tag"] == b"ttag1" and offer["to-tag"] == b"ftag1"
