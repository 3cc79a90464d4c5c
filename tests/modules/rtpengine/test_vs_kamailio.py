"""The ng request itself, compared with Kamailio 5.6.3's: both servers run the same
config against a relay that records each request, get the same SIP request, and must
send rtpengine the same dictionary (and return the same verdict). This is where the
flags-string mapping is checked against Kamailio rather than against its README."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer

from . import calls as C
from .test_failover import FakeRelay

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(kamailio_path() is None, reason="kamailio is not installed")]

CFG = (Path(__file__).parent / "ngcapture.cfg").read_text()


@pytest.fixture(scope="module")
def pair():
    kam_relay, kp_relay = FakeRelay(), FakeRelay()
    for r in (kam_relay, kp_relay):
        r.mode = "ok"
    uac = C.Sock()
    with KamailioServer(CFG, fmt={"sock": kam_relay.url}) as kam, \
            KamapyServer(CFG, children=1, fmt={"sock": kp_relay.url, "mpath": MODULES}) as kp:
        yield (kam, kam_relay), (kp, kp_relay), uac
    kam_relay.close()
    kp_relay.close()
    uac.close()


def _request(method: str, op: str, flags: str, uac_port: int, callid: str, *, to_tag=None,
             body: str | None = None, extra: str = "") -> bytes:
    body = C.sdp(ip="10.0.0.5", port=4000) if body is None else body
    to = "<sip:bob@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    lines = [f"{method} sip:bob@127.0.0.1 SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{uac_port};branch=z9hG4bK-{callid}-1;rport",
             "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-second",
             "Max-Forwards: 70", "From: <sip:alice@127.0.0.1>;tag=ft-1", f"To: {to}",
             f"Call-ID: {callid}", f"CSeq: 1 {method}", f"X-Op: {op}", f"X-Flags: {flags}"]
    lines += [h for h in extra.split("\r\n") if h]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def _run(side, uac, data):
    server, relay = side
    relay.requests.clear()
    uac.send(data, server.port)
    reply = uac.recv(timeout=3)
    reqs = [r for r in relay.requests if r.get("command") != b"ping"]
    return C.header(reply, "X-Rc") if reply else None, reqs


CASES = [
    ("INVITE", "offer", "", {}),
    ("INVITE", "offer", "replace-origin replace-session-connection trust-address symmetric", {}),
    ("INVITE", "offer", "ICE=force RTP/SAVPF DTLS=passive SDES-off SDES-no-AES_CM_128_HMAC_SHA1_32", {}),
    ("INVITE", "offer", "RTP/AVP RTP/AVPF UDP/TLS/RTP/SAVP", {}),
    ("INVITE", "offer", "SRTP AVPF", {}),
    ("INVITE", "offer", "DTLS AVPF", {}),
    ("INVITE", "offer", "RTP AVP SRTP", {}),
    ("INVITE", "offer", "direction=internal direction=external internal external", {}),
    ("INVITE", "offer", "address-family=IP6 media-address=127.0.0.1 label=caller", {}),
    ("INVITE", "offer", "codec-strip=PCMA codec-mask-PCMU transcode-G722 codec-transcode=opus "
                        "codec-offer-speex codec-set=PCMU/8000 codec-except-telephone-event", {}),
    ("INVITE", "offer", "rtcp-mux-demux rtcp-mux=offer T38-decode T.38=force", {}),
    ("INVITE", "offer", "TOS=184 repacketize=20 delete-delay=5 record-call=yes metadata=a|b", {}),
    ("INVITE", "offer", "via-branch=1", {}),
    ("INVITE", "offer", "via-branch=2", {}),
    ("INVITE", "offer", "via-branch=auto", {}),
    ("INVITE", "offer", "via-branch=extra", {"extra": "X-Extra: xid-77"}),
    ("INVITE", "offer", "via-branch=bogus", {}),
    ("INVITE", "offer", "call-id=other from-tag=ff to-tag=tt", {}),
    ("INVITE", "offer", "to-tag", {"to_tag": "tt-2"}),
    ("INVITE", "offer", "force-answer", {"to_tag": "tt-2"}),
    ("INVITE", "offer", "repacketize=0", {}),
    ("INVITE", "offer", "  many   spaces  ", {}),
    ("INVITE", "offer", "replace replace= SDES= key=", {}),
    ("ACK", "answer", "", {"to_tag": "tt-3"}),
    ("INVITE", "answer", "", {"to_tag": "tt-3"}),
    ("BYE", "delete", "", {"to_tag": "tt-4", "body": ""}),
    ("BYE", "delete", "to-tag delete-delay=0", {"to_tag": "tt-4", "body": ""}),
    ("BYE", "query", "", {"to_tag": "tt-4", "body": ""}),
    ("BYE", "manage", "", {"to_tag": "tt-4", "body": ""}),
    ("INVITE", "manage", "replace-origin", {}),
    ("INVITE", "manage", "", {"body": ""}),
    ("OPTIONS", "manage", "", {}),
    ("INFO", "block_media", "", {"to_tag": "tt-5", "body": ""}),
    ("INFO", "block_media", "directional", {"to_tag": "tt-5", "body": ""}),
    ("INFO", "unblock_dtmf", "from-tag=xx", {"to_tag": "tt-5", "body": ""}),
    ("INFO", "start_recording", "", {"to_tag": "tt-5", "body": ""}),
    ("INFO", "play_media", "file=/tmp/x.wav", {"to_tag": "tt-5", "body": ""}),
    ("INFO", "stop_media", "", {"to_tag": "tt-5", "body": ""}),
    ("INVITE", "offer", "", {"body": "", "extra": ""}),
]


@pytest.mark.parametrize("method,op,flags,kw", CASES, ids=[f"{c[1]}:{c[2][:40]}" for c in CASES])
def test_same_ng_request_as_kamailio(pair, method, op, flags, kw):
    kam, kp, uac = pair
    callid = f"cmp-{abs(hash((method, op, flags))) % 10**8}"
    kw = dict(kw)
    data = _request(method, op, flags, uac.port, callid, **kw)
    want = _run(kam, uac, data)
    got = _run(kp, uac, data)
    assert got == want


def test_the_comparison_sees_requests(pair):
    """Guard against a vacuous pass: an offer does reach the recording relay, with the
    flags in it, on both servers."""
    kam, kp, uac = pair
    data = _request("INVITE", "offer", "replace-origin ICE=remove", uac.port, "cmp-guard")
    for side in (kam, kp):
        rc, reqs = _run(side, uac, data)
        assert rc == "1" and len(reqs) == 1
        assert reqs[0]["replace"] == [b"origin"] and reqs[0]["ICE"] == b"remove"
        assert reqs[0]["sdp"].startswith(b"v=0")


SDPPV = (Path(__file__).parent / "sdppv.cfg").read_text()


@pytest.fixture(scope="module")
def pvpair():
    kam_relay, kp_relay = FakeRelay(), FakeRelay()
    for r in (kam_relay, kp_relay):
        r.mode = "ok"
    uac = C.Sock()
    with KamailioServer(SDPPV, fmt={"sock": kam_relay.url}) as kam, \
            KamapyServer(SDPPV, children=1, fmt={"sock": kp_relay.url, "mpath": MODULES}) as kp:
        yield (kam, kam_relay), (kp, kp_relay), uac
    kam_relay.close()
    kp_relay.close()
    uac.close()


def _run_full(side, uac, data):
    server, relay = side
    relay.requests.clear()
    uac.send(data, server.port)
    reply = uac.recv(timeout=3)
    reqs = [r for r in relay.requests if r.get("command") != b"ping"]
    text = reply.decode("latin-1") if reply else ""
    keep = [ln for ln in text.split("\r\n") if not ln.lower().startswith(("via:", "to:", "server:"))]
    return keep, reqs


@pytest.mark.parametrize("op,extra", [("offer", ""), ("offer", "X-Set: 4\r\n"),
                                      ("offer", "X-Set: 9\r\n"), ("play", "")])
def test_sdp_pvs_and_setid_avp_as_kamailio(pvpair, op, extra):
    kam, kp, uac = pvpair
    data = _request("INVITE", op, "", uac.port, f"pv-{op}-{len(extra)}", extra=extra)
    want, got = _run_full(kam, uac, data), _run_full(kp, uac, data)
    assert got == want
    if op == "offer" and "9" not in extra:
        # the SDP sent was $var(in), the edited body; the reply body is $avp(out)
        assert b"192.0.2.55" in got[1][0]["sdp"] and b"10.0.0.5" not in got[1][0]["sdp"]
        assert "X-Rc: 1" in got[0] and any("192.0.2.55" in ln for ln in got[0])


@pytest.mark.parametrize("fmt", ["j", "jp", "x"])
def test_query_v_json_as_kamailio(pair, fmt):
    kam, kp, uac = pair
    data = _request("BYE", "query_v", fmt, uac.port, f"qv-{fmt}", to_tag="tt-9", body="")
    for _server, relay in (kam, kp):
        relay.mode = "rich"
    try:
        server, relay = kam
        relay.requests.clear()
        uac.send(data, server.port)
        want = uac.recv(timeout=3)
        server, relay = kp
        uac.send(data, server.port)
        got = uac.recv(timeout=3)
    finally:
        for _server, relay in (kam, kp):
            relay.mode = "ok"
    for name in ("X-Rc", "X-J", "X-J-Len"):
        assert C.header(got, name) == C.header(want, name), (name, want, got)
    if fmt == "j":
        assert C.header(got, "X-J").startswith('{"result":"ok","created":1700000000')


def test_two_sets_offer_twice_and_the_choice_ends_with_the_message(pair):
    """set_rtpengine_set("0", "1"): the offer goes to set 0, then set 1 gets set 0's
    answer SDP -- on both servers. The next message that chooses no set: Kamailio still
    has set 1 selected in that worker and offers twice again; kamapy offers once
    (D-rtpengine-2)."""
    kam, kp, uac = pair
    first = _request("INVITE", "offer2", "replace-origin", uac.port, "two-sets-1")
    then = _request("INVITE", "offer", "replace-origin", uac.port, "two-sets-2")
    w1, g1 = _run(kam, uac, first), _run(kp, uac, first)
    assert w1 == g1 and len(g1[1]) == 2
    w2, g2 = _run(kam, uac, then), _run(kp, uac, then)
    assert len(w2[1]) == 2 and len(g2[1]) == 1, (w2, g2)
    assert g2[1][0] == w2[1][0]


def test_rpc_output_as_kamailio(tmp_path):
    """rtpengine.show/ping/enable/reload/get_hash_total: the same answers and faults as
    Kamailio's, field by field (recheck_ticks within a few seconds: the two servers started one after the other)."""
    import os

    from tests.support.rpc import rpc_call
    relay = FakeRelay()
    relay.mode = "ok"
    text = (Path(__file__).parent / "rpc.cfg").read_text()
    dk, dp = tmp_path / "k", tmp_path / "p"
    dk.mkdir()
    dp.mkdir()
    calls = [("rtpengine.show", "all"), ("rtpengine.ping", "all"), ("rtpengine.ping", relay.url),
             ("rtpengine.enable", relay.url, 0), ("rtpengine.show", relay.url),
             ("rtpengine.enable", relay.url, 1), ("rtpengine.enable", "udp:127.0.0.1:9", 1),
             ("rtpengine.enable", "udp:127.0.0.1:9", 0), ("rtpengine.show", "all"),
             ("rtpengine.show", "nope"), ("rtpengine.show",), ("rtpengine.enable", relay.url),
             ("rtpengine.reload",), ("rtpengine.get_hash_total",)]

    def answers(d):
        out = []
        for method, *params in calls:
            try:
                out.append(rpc_call(os.path.join(d, "rpc.sock"), method, *params))
            except RuntimeError as e:
                out.append(("fault", str(e)))
        return out

    try:
        with KamailioServer(text, fmt={"sock": relay.url, "dir": dk}) as _kam, \
                KamapyServer(text, children=1, fmt={"sock": relay.url, "dir": dp, "mpath": MODULES}) as _kp:
            want, got = answers(str(dk)), answers(str(dp))
    finally:
        relay.close()

    def ticks(rows):
        for r in rows:
            for n in (r if isinstance(r, list) else []):
                if isinstance(n.get("recheck_ticks"), int):
                    yield n["recheck_ticks"]
                    n["recheck_ticks"] = "?"
    tw, tg = list(ticks(want)), list(ticks(got))
    assert all(abs(a - b) <= 5 for a, b in zip(tw, tg, strict=True)), (tw, tg)
    assert got == want
    assert want[0][1]["disabled"] == 1 and want[4][0]["disabled"] == "1(permanent)"
