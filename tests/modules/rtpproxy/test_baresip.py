"""Two baresip UAs call each other through kamapy with rtpproxy_manage("co") against
rtpengine's legacy rtpproxy port: each UA's media comes from rtpengine's ports,
rtpengine counts RTP both ways, and the BYE deletes the call. Slow (baresip)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rtpengine.rtpe import Rtpengine, assert_media_relayed, rtpengine_path

from tests.support.baresip import baresip_path, hang_up, register_and_call, ua_pair, wait_until
from tests.support.server import KamapyServer

pytestmark = [pytest.mark.wire, pytest.mark.slow,
              pytest.mark.skipif(baresip_path() is None, reason="baresip is not installed"),
              pytest.mark.skipif(rtpengine_path() is None, reason="rtpengine is not installed")]

CFG = (Path(__file__).parent / "baresip.cfg").read_text()


def test_two_baresips_through_rtpproxy_mode(tmp_path):
    with Rtpengine(legacy_udp=True) as rtpe, \
            KamapyServer(CFG, children=2,
                         fmt={"sock": f"udp:127.0.0.1:{rtpe.udp_port}"}) as srv:
        alice, bob = ua_pair(tmp_path, srv.port)
        try:
            register_and_call(alice, bob, srv.port, srv.log)
            calls = rtpe.calls()
            assert len(calls) == 1, (calls, srv.log()[-3000:])
            assert_media_relayed(rtpe, calls[0], (alice, bob))
            hang_up(alice, bob, srv.log)
            assert wait_until(lambda: rtpe.calls() == [], 4), f"rtpengine still lists {rtpe.calls()}"
        finally:
            alice.stop()
            bob.stop()
