"""The tutorial module (docs/writing-a-module.md) works as the tutorial says."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.server import REPO, KamapyServer
from tests.support.sipclient import SipClient, status_of

MODULES = ["-L", str(REPO / "tests" / "modules")]

CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "hitcount"
modparam("hitcount", "window", 30)
request_route {
    if (!hitcount_check("3")) {
        sl_send_reply("429", "Too Many Requests");
        exit;
    }
    sl_send_reply("200", "hit $hitcount");
}
"""


@pytest.mark.wire
def test_fourth_request_in_the_window_is_refused_across_workers():
    with KamapyServer(CFG, children=2, args=MODULES) as srv:
        # from 127.0.0.2: the readiness probes (from 127.0.0.1, as many as start-up
        # took) count for another source
        with SipClient(("127.0.0.1", srv.port), host="127.0.0.2") as c:
            replies = [c.request(c.options()) for _ in range(5)]
    codes = [status_of(r) for r in replies]
    assert codes == [200, 200, 200, 429, 429]
    assert b"hit 3" in replies[2]


def test_bad_window_is_a_config_error(tmp_path):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text('loadmodule "sl.so"\nloadmodule "hitcount"\nmodparam("hitcount", "window", 0)\n'
                   'request_route { sl_send_reply("200", "OK"); }\n')
    out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg), *MODULES],
                         capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert out.returncode != 0
    assert f"{cfg}:3:" in out.stderr
    assert "window must be > 0 seconds" in out.stderr
    assert "Traceback" not in out.stderr
