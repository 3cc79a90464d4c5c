"""Issue 13's first acceptance item with real softphones: baresip behind the NAT
registers through etc/kamapy.cfg (-A WITH_RTPENGINE, which implies WITH_NAT), a baresip
on the public side calls it and it calls out; each call is answered, RTP flows both
ways through the NAT (rtpengine relays it, as the stock config does for NATed calls),
and a hang-up from either end closes the call on both."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.netlab.labpeers import LabBaresip, LabRtpengine
from tests.netlab.natserver import NatServer
from tests.support.baresip import write_tone

pytestmark = [
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip (baresip-core) is not installed"),
    pytest.mark.skipif(shutil.which("rtpengine") is None, reason="rtpengine (rtpengine-daemon) is not installed"),
]


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _call(caller, callee, hang_up, server, rtpe):
    callee.events.clear()
    caller.events.clear()
    caller.command("dial", f"sip:{callee.user}@{server.host}")
    diag = lambda: (caller.log()[-1500:], callee.log()[-1500:], server.log()[-3000:])  # noqa: E731
    assert caller.wait_event("CALL_ESTABLISHED", 10), diag()
    assert callee.wait_event("CALL_ESTABLISHED", 5), diag()
    # media both ways: each side gets RTP, relayed by rtpengine through the NAT
    assert caller.wait_event("CALL_RTPESTAB", 5), (diag(), rtpe.log()[-2000:])
    assert callee.wait_event("CALL_RTPESTAB", 5), (diag(), rtpe.log()[-2000:])
    relayed = f"incoming rtp for 'audio' established, receiving from {server.host}:"
    assert _wait(lambda: caller.log().count(relayed) > caller.calls
                 and callee.log().count(relayed) > callee.calls, 3), "the RTP did not come from rtpengine"
    caller.calls += 1
    callee.calls += 1
    hang_up.command("hangup")
    other = callee if hang_up is caller else caller
    assert hang_up.wait_event("CALL_CLOSED", 5), diag()
    assert other.wait_event("CALL_CLOSED", 5), diag()


# symmetric: masquerade `random`; rtpengine learns alice's mapped RTP port from her packets
@pytest.mark.parametrize("nat_lab", [{}, {"symmetric": True}], indirect=True, ids=["cone", "symmetric"])
def test_baresip_behind_nat_registers_and_calls_both_ways(nat_lab, tmp_path):
    lab = nat_lab
    tone = tmp_path / "tone8k.wav"
    write_tone(tone, seconds=4.0)
    rtpe = LabRtpengine(lab, lab.srv, lab.server_ip, tmp_path).start()
    try:
        with NatServer(lab, defines=("WITH_RTPENGINE",)) as server:
            proxy = (lab.server_ip, 5060)
            alice = LabBaresip(lab, lab.clients[0], lab.client_ips[0], tmp_path, "alice", proxy, tone,
                               auto_answer=True)
            bob = LabBaresip(lab, lab.srv, lab.add_public_host(), tmp_path, "bob", proxy, tone,
                             auto_answer=True)
            alice.calls = bob.calls = 0
            try:
                alice.start()
                bob.start()
                assert _wait(alice.registered, 10), (alice.log()[-2000:], server.log()[-3000:])
                assert _wait(bob.registered, 10), (bob.log()[-2000:], server.log()[-3000:])
                c = server.contacts("alice")
                assert len(c) == 1, c
                assert lab.client_ips[0] in c[0]["Address"], c      # what alice wrote
                assert c[0]["Received"].startswith(f"sip:{lab.public_ip}:"), c  # where the NAT put her
                _call(bob, alice, hang_up=alice, server=server, rtpe=rtpe)  # BYE out through the NAT
                _call(alice, bob, hang_up=bob, server=server, rtpe=rtpe)    # BYE in through the NAT
            finally:
                alice.stop()
                bob.stop()
    finally:
        rtpe.stop()
