"""Logging honours the core parameters: debug= filters, log_prefix expands PVs per
message, log_stderror / -E send lines to stderr in Kamailio's shape."""

from __future__ import annotations

import re

import pytest

from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.wire

CFG = r"""
debug=1
log_stderror=yes
log_prefix="[$rm $ci] "
children=1
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "xlog.so"
request_route {
    xlog("L_NOTICE", "notice from the script\n");
    xlog("L_INFO", "info is above debug=1\n");
    sl_send_reply("200", "OK");
}
"""


def test_debug_level_and_log_prefix():
    with KamapyServer(CFG, children=1) as srv:
        with SipClient(("127.0.0.1", srv.port)) as c:
            assert status_of(c.request(c.options(callid="prefix-check-1"))) == 200
        log = srv.log()
    # (the readiness probes logged lines too: take the one of our request)
    line = next(ln for ln in log.splitlines() if "notice from the script" in ln and "prefix-check-1" in ln)
    # Kamailio's shape: prefix, rank(pid), level, then the text
    assert re.match(r"^\[OPTIONS prefix-check-1\]\s+\d+\(\d+\) NOTICE: ", line), line
    assert "info is above debug=1" not in log
