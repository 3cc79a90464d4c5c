"""Browser <-> baresip with media through rtpengine: headless Chromium running JsSIP
(fake microphone) registers over ws:// and calls a baresip UA that registered over
UDP; kamapy asks rtpengine to bridge WebRTC's ICE + DTLS-SRTP + rtcp-mux
(UDP/TLS/RTP/SAVPF) to plain RTP/AVP, with the flags of Kamailio's WebRTC examples
(webrtc_media.cfg). Checked: the call states JsSIP reports (confirmed, then ended by
the browser's BYE), the browser's ICE connected to rtpengine, baresip got RTP
(CALL_RTPESTAB, from rtpengine's ports), and rtpengine's query counted packets on
both legs; the BYE deleted the call in rtpengine.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.modules.rtpengine.rtpe import Rtpengine, rtpengine_path
from tests.support.baresip import Baresip, baresip_path, wait_until, write_tone
from tests.support.ports import free_port_block
from tests.support.server import KamapyServer

from .test_browser_phone import CHROMIUM, Browser, Phone, tools  # noqa: F401  (tools: a fixture)

HERE = Path(__file__).parent

pytestmark = [
    pytest.mark.wire,
    pytest.mark.skipif(rtpengine_path() is None, reason="rtpengine not installed"),
    pytest.mark.skipif(baresip_path() is None, reason="baresip not installed"),
    pytest.mark.skipif(shutil.which("node") is None, reason="node not installed"),
]


@pytest.fixture(scope="module")
def rtpe():
    with Rtpengine() as r:
        yield r


@pytest.fixture(scope="module")
def net(rtpe, tmp_path_factory):
    ws = free_port_block(1)
    text = (HERE / "webrtc_media.cfg").read_text()
    with KamapyServer(text, children=2, fmt={"ws": ws, "rtpe": rtpe.url}) as s:
        s.ws = f"ws://127.0.0.1:{ws}"
        yield s


def test_browser_calls_baresip_with_media_through_rtpengine(tools, net, rtpe, tmp_path):  # noqa: F811
    server = net
    tone = tmp_path / "tone8k.wav"
    write_tone(tone, seconds=30)
    base, rtp = free_port_block(3), free_port_block(20)
    bob = Baresip(tmp_path, "bob", base, base + 2, rtp, server.port, tone, auto_answer=True).start()
    browser = Browser(tools, [])
    alice = None
    try:
        assert wait_until(bob.registered, 10), server.log()[-2000:]
        alice = Phone(browser, (tools / "www" / "phone.html").as_uri())
        alice.js(f"window.start({json.dumps({'ws': server.ws, 'uri': f'sip:alice@127.0.0.1:{server.port}'})})")
        assert alice.wait_event("^registered") == "registered:200"
        alice.js(f"window.call('sip:bob@127.0.0.1:{server.port}')")
        got = alice.wait_event("^(confirmed|failed|ended)", 15)
        assert got == "confirmed", (alice.events(), server.log()[-3000:], rtpe.log()[-3000:])
        assert bob.wait_event("CALL_ESTABLISHED", 5)
        ice = browser.cmd("wait", timeout=20, page=alice.page, timeout_ms=15000,
                          expr="['connected', 'completed'].includes(window.iceState()) && window.iceState()")
        assert ice in ("connected", "completed")
        calls = rtpe.calls()
        ok = bob.wait_event("CALL_RTPESTAB", 10)
        import os
        if os.environ.get("MEDIA_DBG"):
            Path(os.environ["MEDIA_DBG"]).write_text(repr(rtpe.query(calls[0]) if calls else None) + "\n\n"
                                                     + rtpe.log() + "\n\n" + server.log() + "\n\n"
                                                     + json.dumps(alice.js("window.sdps || []")) + "\n\nBOB\n" + bob.log()[-6000:]
                                                     + "\n\nEVENTS " + json.dumps(alice.events()))
        assert ok
        assert len(calls) == 1, calls
        time.sleep(2.0)   # media for a while
        q = rtpe.query(calls[0])
        legs = {tag.decode() if isinstance(tag, bytes) else tag:
                sum(st.get("stats", {}).get("packets", 0) for m in leg.get("medias", [])
                    for st in m.get("streams", []))
                for tag, leg in q["tags"].items()}
        assert len(legs) == 2 and all(n > 20 for n in legs.values()), (legs, q.get("totals"))
        protocols = sorted(m.get("protocol", b"").decode() for leg in q["tags"].values()
                           for m in leg.get("medias", []))
        assert protocols == ["RTP/AVP", "UDP/TLS/RTP/SAVPF"], protocols
        ports = range(rtpe.port_min, rtpe.port_max + 1)
        assert any(f"127.0.0.1:{p}" in bob.log() for p in ports), bob.log()[-2000:]
        alice.js("window.hangup()")
        assert alice.wait_event("^ended") == "ended:local:Terminated"
        assert bob.wait_event("CALL_CLOSED", 5)
        assert wait_until(lambda: rtpe.calls() == [], 5), rtpe.calls()
    finally:
        if alice is not None:
            alice.close()
        browser.close()
        bob.stop()
