"""The process model over the wire: a real kamapy master with workers, driven by UDP
requests and SIPp load; workers killed on purpose; shutdown checked for orphans."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support.server import REPO, KamapyServer, alive
from tests.support.sipclient import SipClient, status_of
from tests.support.sipp import SippRun, sipp_path

pytestmark = pytest.mark.wire

CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "testkit"
request_route {
    if ($rU == "hog") {
        shm_hog();
        sl_send_reply("200", "not reached");
        exit;
    }
    if ($rU == "die") {
        lock_and_die();
        exit;
    }
    if ($rU == "lock") {
        with_lock();
        sl_send_reply("200", "locked");
        exit;
    }
    if (method == "OPTIONS" && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""
MODULES = ["-L", str(REPO / "tests" / "modules")]


def wait_until(pred, timeout: float, step: float = 0.02) -> float | None:
    """Seconds until pred() held, or None when it never did within timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(step)
    return None


@pytest.fixture
def server():
    with KamapyServer(CFG, children=2, args=["-m", "16", *MODULES]) as srv:
        yield srv


def test_options_answered_by_the_route_block(server):
    with SipClient(("127.0.0.1", server.port)) as c:
        reply = c.request(c.options())
        assert status_of(reply) == 200
        assert b"Server: kamapy" in reply
        reply = c.request(c.options(ruri=f"sip:nobody@127.0.0.1:{server.port}"))
        assert status_of(reply) == 404


def test_process_count(server):
    # 2 UDP workers + the timer process; the server answers as soon as one worker is up,
    # so on a loaded machine the others may still be forking
    wait_until(lambda: len(server.workers()) >= 3, 5.0)
    assert len(server.workers()) == 3
    assert len(server.udp_workers()) == 2


def test_sigterm_stops_everything_within_2s(server):
    kids = server.workers()
    assert kids
    start = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(5)
    took = time.monotonic() - start
    assert took < 2.0
    assert server.proc.returncode == 0
    assert wait_until(lambda: not any(alive(p) for p in kids), 1.0) is not None


def test_sigkill_of_the_master_leaves_no_orphans(server):
    kids = server.workers()
    os.kill(server.pid, signal.SIGKILL)
    server.proc.wait(5)
    assert wait_until(lambda: not any(alive(p) for p in kids), 2.0) is not None


def test_pool_exhaustion_answers_500_and_the_server_goes_on(server):
    with SipClient(("127.0.0.1", server.port)) as c:
        reply = c.request(c.options(ruri=f"sip:hog@127.0.0.1:{server.port}"))
        assert status_of(reply) == 500
        assert status_of(c.request(c.options())) == 200
    assert "out of shared memory" in server.log()


def test_lock_held_by_a_killed_worker_is_recovered(server):
    before = set(server.workers())
    with SipClient(("127.0.0.1", server.port)) as c:
        c.send(c.options(ruri=f"sip:die@127.0.0.1:{server.port}"))
        # the worker died holding the lock; a new one replaces it
        assert wait_until(lambda: set(server.workers()) != before and len(server.workers()) == 3, 2.0)
        # whichever worker takes the lock next must get it (EOWNERDEAD -> consistent)
        for _ in range(4):
            reply = c.request(c.options(ruri=f"sip:lock@127.0.0.1:{server.port}"), timeout=2.0)
            assert status_of(reply) == 200
    assert "recovered" in server.log().lower()


@pytest.mark.skipif(sipp_path() is None, reason="sipp (sip-tester) is not installed")
def test_worker_sigkill_under_sipp_load_is_replaced_within_1s(server):
    count = len(server.workers())
    sipp = SippRun("options_uac.xml", f"127.0.0.1:{server.port}",
                   "-r", "1000", "-m", "5000", "-timeout", "20s", "-recv_timeout", "4000").start()
    try:
        time.sleep(1.0)
        udp_worker = server.udp_workers()[0]
        os.kill(udp_worker, signal.SIGKILL)
        killed_at = time.monotonic()
        with SipClient(("127.0.0.1", server.port)) as c:
            answered = wait_until(lambda: c.ping(0.2), 1.0, step=0)
        assert answered is not None, "no answer within 1 s of the kill"
        restored = wait_until(lambda: len(server.workers()) == count and udp_worker not in server.workers(),
                              1.0 - min(0.9, time.monotonic() - killed_at))
        assert restored is not None, "the process count did not come back within 1 s"
        sipp.wait(30)
    finally:
        sipp.kill()
    st = sipp.stats()
    assert int(st["SuccessfulCall(C)"]) >= 4900
    assert "died" in server.log()
