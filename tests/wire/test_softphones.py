"""Two real softphones through kamapy running etc/kamapy.cfg: both register, alice calls
bob, bob answers, RTP flows both ways, and alice's BYE ends the call on both sides."""

from __future__ import annotations

import pytest

from tests.support.baresip import baresip_path, hang_up, register_and_call, ua_pair, wait_until
from tests.support.server import REPO, KamapyServer

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(baresip_path() is None, reason="baresip (baresip-core) is not installed")]


def default_cfg() -> str:
    text = (REPO / "etc" / "kamapy.cfg").read_text()
    return text.replace("listen=udp:127.0.0.1:5060", "listen=udp:127.0.0.1:{port}")


def test_baresip_call_through_the_default_config(tmp_path):
    with KamapyServer(default_cfg(), children=2) as srv:
        alice, bob = ua_pair(tmp_path, srv.port)
        try:
            register_and_call(alice, bob, srv.port, srv.log)
            # media flows end to end: both sides see incoming RTP
            assert wait_until(lambda: "incoming rtp for 'audio' established" in bob.log()
                        and "incoming rtp for 'audio' established" in alice.log(), 5)
            hang_up(alice, bob, srv.log)
        finally:
            alice.stop()
            bob.stop()
