"""Debian's stock /etc/kamailio/kamailio.cfg (the kamailio 5.6 package) through
`kamapy -c`, unchanged: with no define, with each WITH_* switch alone (WITH_MYSQL beside
the ones that need its DBURL), and with all of them together. Every verdict must be
ok and equal to `kamailio -c`'s, except WITH_PRESENCE: presence is not built, and
kamapy refuses it by name (Kamailio's presence modules are a package of their own, and
5.6 without them refuses too)."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.kamailio import kamailio_path

from .test_verdicts import KAMAPY, run_check

STOCK = Path("/etc/kamailio/kamailio.cfg")

pytestmark = [
    pytest.mark.skipif(kamailio_path() is None or not STOCK.exists(),
                       reason="Debian's kamailio package (and its stock config) is not installed"),
]

NEED_DB = {"WITH_AUTH", "WITH_USRLOCDB", "WITH_ACCDB", "WITH_ALIASDB", "WITH_SPEEDDIAL",
           "WITH_MULTIDOMAIN", "WITH_IPAUTH"}
OTHERS = ["WITH_DEBUG", "WITH_MYSQL", "WITH_NAT", "WITH_RTPENGINE", "WITH_NATSIPPING", "WITH_TLS",
          "WITH_ANTIFLOOD", "WITH_JSONRPC", "WITH_PSTN", "WITH_VOICEMAIL", "WITH_BLOCK3XX",
          "WITH_BLOCK401407", "WITH_MSGREBUILD"]


def _variants():
    yield ()
    for d in sorted(NEED_DB):
        yield ("WITH_MYSQL", d) if d != "WITH_IPAUTH" else ("WITH_MYSQL", "WITH_AUTH", d)
    for d in OTHERS:
        yield (d,)
    yield ("WITH_NAT", "WITH_RTPENGINE")
    everything = ["WITH_MYSQL", *sorted(NEED_DB), *(d for d in OTHERS if d != "WITH_MYSQL")]
    yield tuple(d for d in everything if d != "WITH_RTPENGINE")  # rtpproxy's half of WITH_NAT
    yield tuple(everything)


def _tls_cfg_present() -> bool:
    return Path("/etc/kamailio/tls.cfg").exists()  # Debian's kamailio-tls-modules ships it


def test_stock_config_verdicts_match_kamailio():
    variants = [v for v in _variants() if "WITH_TLS" not in v or _tls_cfg_present()]
    assert len(variants) >= 20

    def both(defines):
        return defines, run_check([kamailio_path()], STOCK, defines), run_check(KAMAPY, STOCK, defines)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(both, variants))
    bad = []
    for defines, (k_ok, k_out), (p_ok, p_out) in results:
        assert "Traceback" not in p_out, p_out
        if not (k_ok and p_ok):
            bad.append(f"-A {' -A '.join(defines) or '(none)'}: kamailio {'ok' if k_ok else 'refused'}, "
                       f"kamapy {'ok' if p_ok else 'refused'}\n{(p_out if not p_ok else k_out)[-1500:]}")
    assert not bad, "\n\n".join(bad)


def test_presence_is_refused_by_name():
    ok, out = run_check(KAMAPY, STOCK, ("WITH_MYSQL", "WITH_PRESENCE"))
    assert not ok
    assert re.search(r"kamailio\.cfg:\d+:\d+: error: .*presence", out), out
