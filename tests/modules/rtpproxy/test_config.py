"""The stock Debian config's WITH_NAT part (loadmodule "rtpproxy.so", rtpproxy_sock,
rtpproxy_manage("co"/"cor")) loads; bad parameters are refused at their modparam."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
STOCK = Path("/etc/kamailio/kamailio.cfg")


def check(cfg: Path, *defines):
    args = [sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)]
    for d in defines:
        args += ["-A", d]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    return p.returncode == 0, p.stdout + p.stderr


@pytest.mark.skipif(not STOCK.exists(), reason="Debian's kamailio.cfg is not installed")
def test_stock_config_with_nat_loads_rtpproxy():
    ok, out = check(STOCK, "WITH_NAT")
    if ok:
        return
    # other modules of the stock config may still be missing; rtpproxy is not one of them
    missing = [ln for ln in out.splitlines() if "not available in kamapy" in ln]
    assert not any("rtpproxy" in ln.split("(loadmodule")[0] for ln in missing), out
    assert "rtpproxy" not in "".join(ln for ln in out.splitlines() if "error" in ln), out


BAD = [
    ("rtpproxy_sock", "x == udp:127.0.0.1:7722", "must be integer"),
    ("rtp_inst_pvar", "$ru", "Invalid pvar name"),
    ("ice_candidate_priority_avp", "$var(x)", "non AVP definition"),
    ("rtpproxy_sock", "1 ==   ", "empty rtp_proxy list"),
]


def test_bad_params_refused(tmp_path):
    """Each bad modparam is named at its own line, in one check."""
    cfg = tmp_path / "k.cfg"
    cfg.write_text('loadmodule "rtpproxy"\n'
                   + "".join(f'modparam("rtpproxy", "{p}", "{v}")\n' for p, v, _ in BAD[:3])
                   + "request_route { rtpproxy_manage(\"co\"); }\n")
    ok, out = check(cfg)
    assert not ok, out
    for line, (_p, _v, needle) in enumerate(BAD[:3], 2):
        assert any(f"k.cfg:{line}:" in ln and needle in ln for ln in out.splitlines()), out
    # the second rtpproxy_sock error: the first one already stopped the list
    cfg.write_text(f'loadmodule "rtpproxy"\nmodparam("rtpproxy", "rtpproxy_sock", "{BAD[3][1]}")\n')
    ok, out = check(cfg)
    assert not ok and BAD[3][2] in out and "k.cfg:2:" in out, out


def test_good_config(tmp_path):
    cfg = tmp_path / "k.cfg"
    cfg.write_text('loadmodule "rtpproxy"\n'
                   'modparam("rtpproxy", "rtpproxy_sock", "udp:127.0.0.1:7722=2 unix:/tmp/r")\n'
                   'modparam("rtpproxy", "rtpproxy_sock", "3 == udp6:[::1]:7722")\n'
                   'request_route { set_rtp_proxy_set("3"); rtpproxy_offer("co", "1.2.3.4");'
                   ' rtpproxy_stream2uac("/x", "-1"); unforce_rtp_proxy(); }\n')
    ok, out = check(cfg)
    assert ok, out
    cfg.write_text(cfg.read_text().replace('set_rtp_proxy_set("3")', 'set_rtp_proxy_set("4")'))
    ok, out = check(cfg)
    assert not ok and "rtpp_proxy set 4 not configured" in out, out
