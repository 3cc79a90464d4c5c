"""Two real softphones through kamapy running etc/kamapy.cfg: both register, alice calls
bob, bob answers, RTP flows both ways, and alice's BYE ends the call on both sides."""

from __future__ import annotations

import time

import pytest

from tests.support.baresip import Baresip, baresip_path, write_tone
from tests.support.ports import free_port_block
from tests.support.server import REPO, KamapyServer

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(baresip_path() is None, reason="baresip (baresip-core) is not installed")]


def default_cfg() -> str:
    text = (REPO / "etc" / "kamapy.cfg").read_text()
    return text.replace("listen=udp:127.0.0.1:5060", "listen=udp:127.0.0.1:{port}")


def wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_baresip_call_through_the_default_config(tmp_path):
    tone = tmp_path / "tone8k.wav"
    write_tone(tone)
    # each UA binds N (UDP/TCP) and N+1 (TLS), its ctrl_tcp port, and 20 RTP ports
    base = free_port_block(6)
    rtp = free_port_block(40)
    with KamapyServer(default_cfg(), children=2) as srv:
        alice = Baresip(tmp_path, "alice", base, base + 2, rtp, srv.port, tone)
        bob = Baresip(tmp_path, "bob", base + 3, base + 5, rtp + 20, srv.port, tone, auto_answer=True)
        try:
            alice.start()
            bob.start()
            assert wait(alice.registered, 10) and wait(bob.registered, 10), srv.log()[-3000:]
            alice.command("dial", f"sip:bob@127.0.0.1:{srv.port}")
            assert alice.wait_event("CALL_ESTABLISHED", 10), (alice.log()[-2000:], srv.log()[-3000:])
            assert bob.wait_event("CALL_ESTABLISHED", 5)
            # media flows end to end: both sides see incoming RTP
            assert alice.wait_event("CALL_RTPESTAB", 5), alice.log()[-2000:]
            assert bob.wait_event("CALL_RTPESTAB", 5), bob.log()[-2000:]
            assert wait(lambda: "incoming rtp for 'audio' established" in bob.log()
                        and "incoming rtp for 'audio' established" in alice.log(), 5)
            alice.command("hangup")
            assert alice.wait_event("CALL_CLOSED", 5)
            closed = bob.wait_event("CALL_CLOSED", 5)
            assert closed is not None, srv.log()[-3000:]
        finally:
            alice.stop()
            bob.stop()
