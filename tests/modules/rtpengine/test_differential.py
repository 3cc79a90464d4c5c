"""The rtpengine differential cases (tests/differential/cases/rtpengine) with a real
relay: one rtpengine, Kamailio 5.6.3 and kamapy both pointed at it (RTPE_SOCK), each
case played on Kamailio, then on kamapy, the relay's calls dropped in between (the two
runs share Call-IDs and tags). The transcripts are compared as the corpus compares
them, after one more normalisation the corpus runner does not have: a number in the
relay's media port range becomes RTPPORT, since each run gets fresh ports."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.differential.runner import CONFIGS, diff, load_case, play
from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer

from .rtpe import Rtpengine, rtpengine_path

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(kamailio_path() is None, reason="kamailio is not installed"),
              pytest.mark.skipif(rtpengine_path() is None, reason="rtpengine is not installed")]

CASE_DIR = Path(__file__).resolve().parents[2] / "differential" / "cases" / "rtpengine"
CASES = sorted(CASE_DIR.glob("*.toml"))


@pytest.fixture(scope="module")
def servers():
    with Rtpengine(media_ports=400) as rtpe:
        old = os.environ.get("RTPE_SOCK")
        os.environ["RTPE_SOCK"] = rtpe.url   # read by the config's #!trydefenvs
        try:
            text = (CONFIGS / "rtpengine.cfg").read_text()
            with KamailioServer(text) as kam, KamapyServer(text, children=1, fmt={"mpath": MODULES}) as kp:
                yield rtpe, kam, kp
        finally:
            if old is None:
                os.environ.pop("RTPE_SOCK", None)
            else:
                os.environ["RTPE_SOCK"] = old


def _ports(transcript: dict, rtpe) -> dict:
    def fix(line: str) -> str:
        return re.sub(r"(?<![0-9])(\d{4,5})(?![0-9])",
                      lambda m: "RTPPORT" if rtpe.port_min <= int(m.group(1)) <= rtpe.port_max
                      else m.group(1), line)
    return {actor: [[fix(ln) for ln in msg] for msg in msgs] for actor, msgs in transcript.items()}


def _drop_calls(rtpe):
    for callid in rtpe.calls():
        rtpe.ng({"command": "delete", "call-id": callid})


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_rtpengine_case(servers, path):
    rtpe, kam, kp = servers
    case = load_case(path)
    _drop_calls(rtpe)
    want = _ports(play(case, kam.port).normalised(), rtpe)
    _drop_calls(rtpe)
    got = _ports(play(case, kp.port).normalised(), rtpe)
    _drop_calls(rtpe)
    d = diff(want, got)
    assert not d, f"{case.summary}\n{d}"
    # the relay answered every request: no case passed by both servers losing it
    for server in (kam, kp):
        assert "timeout waiting reply" not in server.log(), server.log()[-2000:]


def test_cases_reach_the_relay(servers):
    """Guard against a vacuous pass: in the basic case the callee's INVITE carries the
    relay's address and port on both servers."""
    rtpe, kam, kp = servers
    case = load_case(CASE_DIR / "offer-answer-bye.toml")
    case.id = "guard-offer-answer-bye"   # fresh Call-ID/branches: tm still knows the case's
    for server in (kam, kp):
        _drop_calls(rtpe)
        t = _ports(play(case, server.port).normalised(), rtpe)
        invite = t["callee"][0]
        assert "m=audio RTPPORT RTP/AVP 0 8" in invite and "X-Rc: 1" in invite, invite
        bye = t["callee"][1]
        assert any(ln.startswith("X-Stat: RTP: 0 bytes, 0 packets, 0 errors; RTCP:") for ln in bye), bye
