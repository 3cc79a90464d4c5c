"""A DNS server that misbehaves, over the wire: it never answers, answers with a
wrong id, sends a cut-off packet (names starting with silent, wrongid, trunc, tc), or sets TC with no TCP behind it. Each lookup ends
within its budget (dns_retr_time=1, dns_retr_no=1) with a log line that says what
happened, the request gets 478 from sl_reply_error, and every worker keeps serving."""

from __future__ import annotations

import os
import time

import pytest

from tests.dns.peers import BadServer
from tests.dns.test_cache_wire import Callee, call
from tests.support.ports import free_udp_port
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

pytestmark = [pytest.mark.wire]

CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
dns_retr_time=1
dns_retr_no=1
loadmodule "tm"
loadmodule "sl"
modparam("tm", "fr_timer", 1000)

request_route {
    if (method == "OPTIONS" && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (method == "ACK") { exit; }
    $ru = "sip:" + $rU + "@" + $rU + ".bad.test:{callee}";
    if (!t_relay()) { sl_reply_error(); }
    exit;
}
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dnsbad")
    bad = BadServer().start()
    callee_port = free_udp_port("127.0.0.77")
    callee = Callee(callee_port, ip="127.0.0.77")
    (tmp / "resolv.conf").write_text(f"nameserver {bad.ip}:{bad.port}\noptions timeout:3 attempts:3\n")
    (tmp / "hosts").write_text("127.0.0.1 localhost\n")
    saved = {k: os.environ.get(k) for k in ("KAMAPY_RESOLV_CONF", "KAMAPY_HOSTS")}
    os.environ["KAMAPY_RESOLV_CONF"] = str(tmp / "resolv.conf")
    os.environ["KAMAPY_HOSTS"] = str(tmp / "hosts")
    server = KamapyServer(CFG, fmt={"callee": callee_port})
    try:
        with server:
            yield server, bad, callee
    finally:
        callee.close()
        bad.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("name, logged", [
    ("silent", "no answer from"),
    ("wrongid", "does not match the query"),
    ("trunc", "malformed answer"),
    ("tc", "truncated answer"),
])
def test_a_bad_answer_is_bounded_and_logged(env, name, logged):
    server, bad, _callee = env
    workers = sorted(server.udp_workers())
    status, took = call(server, name, f"bad-{name}")
    assert status == 478, (status, server.log()[-2000:])
    # dns_retr_time=1 x dns_retr_no=1 (resolv.conf's 3 x 3 is overridden)
    assert took < 1.8, took
    assert logged in server.log(), server.log()[-2000:]
    assert any(name in q for q in bad.seen)
    with SipClient(("127.0.0.1", server.port)) as c:
        assert c.ping(1.0)
    assert sorted(server.udp_workers()) == workers  # nobody crashed or was replaced


def test_a_good_answer_from_the_same_server_still_works(env):
    server, _bad, callee = env
    status, took = call(server, "fine", "good-1")
    assert status == 200 and callee.invites == 1, server.log()[-2000:]


def test_a_stuck_lookup_does_not_stall_the_other_worker(env):
    """While one worker waits on a silent name, the other answers at once."""
    import threading
    server, _bad, _callee = env
    out = {}
    # a name not asked before (not in the cache): this lookup really waits
    t = threading.Thread(target=lambda: out.setdefault("slow", call(server, "silentstall", "stall-1")))
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    with SipClient(("127.0.0.1", server.port)) as c:
        assert c.ping(1.0)
    assert time.monotonic() - t0 < 0.5
    t.join(5)
    assert out["slow"][0] == 478 and out["slow"][1] >= 0.9, out
