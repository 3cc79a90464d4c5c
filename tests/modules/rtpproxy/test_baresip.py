"""Two baresip UAs call each other through kamapy with rtpproxy_manage("co") against
rtpengine's legacy rtpproxy port: each UA's media comes from rtpengine's ports,
rtpengine counts RTP both ways, and the BYE deletes the call. Slow (baresip)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from rtpengine.rtpe import Rtpengine, rtpengine_path

from tests.support.baresip import Baresip, baresip_path, write_tone
from tests.support.ports import free_port_block
from tests.support.server import KamapyServer

pytestmark = [pytest.mark.wire, pytest.mark.slow,
              pytest.mark.skipif(baresip_path() is None, reason="baresip is not installed"),
              pytest.mark.skipif(rtpengine_path() is None, reason="rtpengine is not installed")]

CFG = (Path(__file__).parent / "baresip.cfg").read_text()


def wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_two_baresips_through_rtpproxy_mode(tmp_path):
    tone = tmp_path / "tone8k.wav"
    write_tone(tone)
    base = free_port_block(6)
    rtp = free_port_block(40)
    with Rtpengine(legacy_udp=True) as rtpe, \
            KamapyServer(CFG, children=2,
                         fmt={"sock": f"udp:127.0.0.1:{rtpe.udp_port}"}) as srv:
        alice = Baresip(tmp_path, "alice", base, base + 2, rtp, srv.port, tone)
        bob = Baresip(tmp_path, "bob", base + 3, base + 5, rtp + 20, srv.port, tone,
                      auto_answer=True)
        try:
            alice.start()
            bob.start()
            assert wait(alice.registered, 10) and wait(bob.registered, 10), srv.log()[-3000:]
            alice.command("dial", f"sip:bob@127.0.0.1:{srv.port}")
            assert alice.wait_event("CALL_ESTABLISHED", 10), (alice.log()[-2000:],
                                                              srv.log()[-3000:])
            assert bob.wait_event("CALL_ESTABLISHED", 5)
            assert alice.wait_event("CALL_RTPESTAB", 5), alice.log()[-2000:]
            assert bob.wait_event("CALL_RTPESTAB", 5), bob.log()[-2000:]
            calls = rtpe.calls()
            assert len(calls) == 1, (calls, srv.log()[-3000:])
            for ua in (alice, bob):
                assert wait(lambda ua=ua: any(
                    f"127.0.0.1:{p}" in ua.log()
                    for p in range(rtpe.port_min, rtpe.port_max + 1)), 5), ua.log()[-2000:]
            time.sleep(1.0)
            q = rtpe.query(calls[0])
            assert q["result"] == b"ok" and q["totals"]["RTP"]["packets"] > 50, q["totals"]
            per_tag = {tag: sum(s.get("stats", {}).get("packets", 0)
                                for m in leg.get("medias", []) for s in m.get("streams", []))
                       for tag, leg in q["tags"].items()}
            assert len(per_tag) == 2 and all(v > 20 for v in per_tag.values()), per_tag
            alice.command("hangup")
            assert alice.wait_event("CALL_CLOSED", 5)
            assert bob.wait_event("CALL_CLOSED", 5), srv.log()[-3000:]
            assert wait(lambda: rtpe.calls() == [], 4), f"rtpengine still lists {rtpe.calls()}"
        finally:
            alice.stop()
            bob.stop()
