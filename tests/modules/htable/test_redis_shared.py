"""An htable with dmqreplicate=1 shared by two kamapy nodes through a real Redis
(modules/htable/replication.py): pike's flood ban set on node A holds on node B --
also on a B started after the ban -- with its expiry; a delete on B lifts it on A."""

from __future__ import annotations

import os
import tempfile
import time

import pytest

from tests.support.ports import free_udp_port
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
modparam("pike", "sampling_time_unit", 2)
modparam("pike", "reqs_density_per_unit", 8)
modparam("pike", "remove_latency", 4)
request_route {
    if ($rm == "OPTIONS" && $rU == $null) { sl_send_reply("200", "OK"); exit; }  # readiness
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
    def __init__(self, ip: str, port: int, redis_url: str, prefix: str):
        self.rundir = tempfile.mkdtemp(prefix="kphtr")
        super().__init__(CFG, port=port, host=ip,
                         fmt={"ip": ip, "rundir": self.rundir, "redis": redis_url, "prefix": prefix})
        self.ip = ip

    def rpc(self, method: str, *params):
        return rpc_call(os.path.join(self.rundir, "rpc.sock"), method, *params)

    def answers(self, ruri: str = "sip:ping@x") -> bool:
        with SipClient((self.ip, self.port)) as c:
            return status_of(c.request(c.options(ruri), timeout=0.5)) == 200


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
