"""kamapy -c on rtpengine configs: what Kamailio refuses (a bad set id, a set that is
not configured, a PV of the wrong kind) and what kamapy has not built (db_url, SHA1
hashing, MOS parameters) is reported at its file:line:col, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.server import REPO


def check(tmp_path, body: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "k.cfg"
    cfg.write_text('loadmodule "sl"\nloadmodule "rtpengine"\n' + body)
    return subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("body,where,message", [
    ('modparam("rtpengine", "rtpengine_sock", "x == udp:127.0.0.1:1")\n', ":3:41:",
     "script error - invalid set_id value"),
    ('modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:1")\n'
     'request_route { set_rtpengine_set("3"); }\n', ":4:35:", "rtpp_proxy set 3 not configured"),
    ('modparam("rtpengine", "db_url", "postgres://x")\n', ":3:33:", "not supported yet"),
    ('modparam("rtpengine", "rtp_inst_pvar", "$ru")\n', ":3:40:", "Invalid pvar name <$ru>"),
    ('modparam("rtpengine", "write_sdp_pv", "$xavp(a)")\n', ":3:39:", "Invalid pvar name"),
    ('modparam("rtpengine", "hash_algo", 1)\n', ":3:36:", "needs the crypto module"),
    ('modparam("rtpengine", "queried_nodes_limit", 31)\n', ":3:46:", "1..30"),
    ('modparam("rtpengine", "force_send_interface", "nowhere")\n', ":3:47:", "unknown address"),
])
def test_refused(tmp_path, body, where, message):
    r = check(tmp_path, body)
    assert r.returncode != 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert where in out and message in out, out
    assert "Traceback" not in out


def test_ok_and_warned(tmp_path):
    r = check(tmp_path, 'modparam("rtpengine", "rtpengine_sock", "1 == udp:127.0.0.1:1=2 udp6:[::1]:2")\n'
                        'modparam("rtpengine", "mos_min_pv", "$avp(m)")\n'
                        'request_route { set_rtpengine_set("1"); rtpengine_manage(); '
                        'rtpengine_offer("replace-origin"); block_media(); exit; }\n')
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "config file ok" in out
    assert "mos_min_pv" in out and "not implemented in kamapy" in out
