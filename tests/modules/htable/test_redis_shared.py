"""An htable with dmqreplicate=1 shared by two kamapy nodes through a real Redis
(modules/htable/replication.py): pike's flood ban set on node A holds on node B --
also on a B started after the ban -- with its expiry; a delete on B lifts it on A.
Redis stopped and restarted (empty, or with its data): the changes the nodes' scripts
made meanwhile are written back from their journals and reach the other node, a
newer change Redis holds wins, and a full journal drops its oldest changes."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import tempfile
import time

import pytest

from tests.support.ports import free_tcp_port, free_udp_port
from tests.support.redisserver import RedisServer
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

CFG = r"""
debug=2
children=2
listen=udp:{ip}:{port}
loadmodule "sl"
loadmodule "pv"
loadmodule "xlog"
loadmodule "pike"
loadmodule "htable"
loadmodule "jsonrpcs"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
modparam("htable", "htable", "ipban=>size=8;autoexpire=60;dmqreplicate=1")
modparam("htable", "htable", "local=>size=4")
modparam("htable", "redis_url", "{redis}")
modparam("htable", "redis_prefix", "{prefix}")
modparam("htable", "redis_journal_size", {journal})
modparam("pike", "sampling_time_unit", 2)
modparam("pike", "reqs_density_per_unit", 8)
modparam("pike", "remove_latency", 4)
request_route {
    if ($rm == "OPTIONS" && $rU == $null) { sl_send_reply("200", "OK"); exit; }  # readiness
    if ($rU == "set") { $sht(ipban=>$hdr(X-Key)) = $hdr(X-Val); sl_send_reply("200", "Set"); exit; }
    if ($rU == "del") { $sht(ipban=>$hdr(X-Key)) = $null; sl_send_reply("200", "Deleted"); exit; }
    if ($sht(ipban=>$si) != $null) { xlog("L_INFO", "BANNED $si\n"); exit; }
    if ($rU == "flood") {
        if (!pike_check_req()) {
            $sht(ipban=>$si) = 1;
            xlog("L_ALERT", "ALERT: pike blocking $rm from $fu (IP:$si:$sp)\n");
            exit;
        }
    }
    sl_send_reply("200", "OK");
}
"""

pytestmark = pytest.mark.skipif(not RedisServer().available, reason="redis-server / redis-py missing")


class Node(KamapyServer):
    def __init__(self, ip: str, port: int, redis_url: str, prefix: str, journal: int = 10000):
        self.rundir = tempfile.mkdtemp(prefix="kphtr")
        super().__init__(CFG, port=port, host=ip,
                         fmt={"ip": ip, "rundir": self.rundir, "redis": redis_url, "prefix": prefix,
                              "journal": journal})
        self.ip = ip

    def rpc(self, method: str, *params):
        return rpc_call(os.path.join(self.rundir, "rpc.sock"), method, *params)

    def answers(self, ruri: str = "sip:ping@x") -> bool:
        with SipClient((self.ip, self.port)) as c:
            return status_of(c.request(c.options(ruri), timeout=0.5)) == 200

    def script(self, op: str, key: str, value: str = "") -> int | None:
        """What a SIP request does through the script: $sht(ipban=>key) set or deleted."""
        with SipClient((self.ip, self.port)) as c:
            extra = f"X-Key: {key}\r\nX-Val: {value}\r\n"
            return status_of(c.request(c.options(f"sip:{op}@x", extra=extra), timeout=2.0))


def wait_for(fn, timeout: float = 4.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


def test_a_ban_on_one_node_blocks_on_the_other():
    redis = RedisServer().start()
    try:
        port = free_udp_port()
        prefix = f"ht{os.getpid()}:"
        with Node("127.0.0.2", port, redis.url, prefix) as a:
            # flood A from 127.0.0.1 until pike bans it there
            with SipClient((a.ip, a.port)) as c:
                for _ in range(30):
                    c.send(c.options("sip:flood@x"))
                    time.sleep(0.01)
            assert wait_for(lambda: "pike blocking" in a.log())
            assert not a.answers()
            item = a.rpc("htable.get", "ipban", "127.0.0.1")["item"]
            assert item["value"] == 1 and item["expire"] != "NEVER"
            # a node started after the ban loads it (with its expiry) from Redis
            with Node("127.0.0.3", port, redis.url, prefix) as b:
                assert b.rpc("htable.get", "ipban", "127.0.0.1")["item"] == item
                assert not b.answers()
                assert "BANNED 127.0.0.1" in b.log()
                # lifted on B: A lets the address in again (pub/sub)
                b.rpc("htable.delete", "ipban", "127.0.0.1")
                assert wait_for(a.answers)
                assert b.answers()
                # a set on A, with its expiry, shows on B; a table without dmqreplicate stays local
                a.rpc("htable.setxi", "ipban", "10.0.0.9", 7, 30)
                a.rpc("htable.seti", "local", "k", 3)
                assert wait_for(lambda: _get(b, "ipban", "10.0.0.9") is not None)
                assert _get(b, "ipban", "10.0.0.9") == _get(a, "ipban", "10.0.0.9")
                assert _get(b, "local", "k") is None
    finally:
        redis.stop()


def _get(node, table, key):
    from tests.support.rpc import rpc_reply
    reply = rpc_reply(os.path.join(node.rundir, "rpc.sock"), "htable.get", table, key)
    return reply.get("result", {}).get("item") if "result" in reply else None


def _value(node, key):
    item = _get(node, "ipban", key)
    return item["value"] if item is not None else None


def _values(node, keys):
    return {k: _value(node, k) for k in keys}


@contextlib.contextmanager
def _pair(redis_url, journal=10000):
    port = free_udp_port()
    prefix = f"ht{os.getpid()}-{time.monotonic_ns()}:"
    a = Node("127.0.0.2", port, redis_url, prefix, journal)
    b = Node("127.0.0.3", port, redis_url, prefix)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(n.start) for n in (a, b)]
    try:
        for f in futures:
            f.result()
        yield a, b, prefix
    finally:
        for n in (a, b):
            n.stop()


@pytest.mark.parametrize("outage", [2.0, pytest.param(10.0, marks=pytest.mark.slow)])
def test_changes_made_while_redis_is_away_reach_the_other_node(outage):
    """Redis stopped, sets and a delete through A's script and a set through B's, Redis
    restarted empty: each node's journal is written back, the other node gets it, and
    the items both held from before the outage go back to Redis too."""
    redis = RedisServer().start()
    try:
        with _pair(redis.url) as (a, b, prefix):
            for k, v in (("keep", "before"), ("gone", "x"), ("moved", "old")):
                assert a.script("set", k, v) == 200
            assert wait_for(lambda: _value(b, "moved") == "old")
            redis.halt()
            try:
                t0 = time.monotonic()
                assert a.script("set", "new", "during") == 200   # answered from what A holds
                assert a.script("del", "gone") == 200
                assert a.script("set", "moved", "new") == 200
                assert b.script("set", "fromb", "b") == 200
                assert _values(a, ["new", "gone", "moved"]) == {"new": "during", "gone": None, "moved": "new"}
                assert _value(b, "gone") == "x"  # B cannot know yet
                time.sleep(max(0.0, outage - (time.monotonic() - t0)))
            finally:
                redis.resume()  # empty: no persistence
            want = {"new": "during", "gone": None, "moved": "new", "fromb": "b", "keep": "before"}
            assert wait_for(lambda: _values(b, want) == want, timeout=6), (_values(b, want), b.log())
            assert wait_for(lambda: _values(a, want) == want, timeout=6), (_values(a, want), a.log())
            r = redis.client()
            assert r.get(prefix + "ipban:new").endswith(b":sduring")   # stamped with its time
            assert r.get(prefix + "ipban:gone").endswith(b":d")        # the delete's tombstone
            assert r.get(prefix + "ipban:fromb").endswith(b":sb")
            assert "3 changes made while redis" in a.log() and "1 changes made while redis" in b.log()
            # Redis came back empty: what the nodes held from before is written back too,
            # stamped 0 (older than any change)
            assert wait_for(lambda: r.get(prefix + "ipban:keep") == b"0:sbefore")
            assert "had lost the shared tables" in a.log() and "had lost the shared tables" in b.log()
    finally:
        redis.stop()


def test_newer_change_in_redis_wins_and_full_journal_drops_oldest():
    """Redis keeps its data (appendonly) and, while A is cut off, gets a newer change of
    a key A changed too (written as another node writes it): that one wins on A. A's
    journal holds 4 keys: of the 6 keys changed, the 2 oldest stay on A only."""
    redis = RedisServer().start(appendonly=True)
    try:
        with _pair(redis.url, journal=4) as (a, b, prefix):
            assert a.script("set", "k", "a0") == 200
            assert wait_for(lambda: _value(b, "k") == "a0")
            redis.halt()
            try:
                for i in range(1, 5):
                    assert a.script("set", f"y{i}", f"v{i}") == 200
                    time.sleep(0.01)
                assert a.script("set", "k", "a1") == 200
                changed_ms = int(time.time() * 1000)
                time.sleep(0.01)
                assert a.script("set", "x", "a-x") == 200
                # another node's later change of k reaches Redis (before A can come back)
                other = RedisServer()
                other.dir, other.port, other._appendonly = redis.dir, free_tcp_port(), True
                other._spawn()
                try:
                    other.client().set(prefix + "ipban:k", b"%d:sb-newer" % (changed_ms + 500))
                    other.client().shutdown(save=False)
                except Exception:
                    pass
                finally:
                    other.halt()
            finally:
                redis.resume()
            assert redis.client().get(prefix + "ipban:k").endswith(b":sb-newer")
            want = {"k": "b-newer", "x": "a-x", "y3": "v3", "y4": "v4", "y1": None, "y2": None}
            assert wait_for(lambda: _values(b, want) == want, timeout=6), (_values(b, want), b.log())
            assert wait_for(lambda: _value(a, "k") == "b-newer", timeout=6), a.log()
            assert _values(a, ["y1", "y2", "x"]) == {"y1": "v1", "y2": "v2", "x": "a-x"}  # kept on A
            log = a.log()
            assert log.count("redis journal is full") == 1, log
            assert "3 changes made while redis" in log and "(1 keys kept a newer change" in log
            assert "had lost" not in log + b.log()  # it had not: nothing else written back
    finally:
        redis.stop()
