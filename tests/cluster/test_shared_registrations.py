"""Shared registrations (issue 22): two kamapy nodes on 127.0.0.2 and 127.0.0.3 with
usrloc db_mode 3 on one Redis (db_redis, Kamailio's layout, rows expired by Redis) or
one PostgreSQL database. A user registered through one node is reached by an INVITE
through the other (SIPp caller and callee); an unregister or an expiry is seen by both;
an INVITE costs the location store one round trip; Redis stopped for 10 s: REGISTERs
get a 500 and one log line while it is down, nothing acknowledged is lost, lookups
and REGISTERs recover when it is back."""

from __future__ import annotations

import os
import time

import pytest

from tests.cluster.lab import RPC_CFG, ClusterLab
from tests.db.test_redis_location import SCHEMA, find, register
from tests.support.ports import free_udp_port
from tests.support.redisserver import RedisServer
from tests.support.sipclient import SipClient, status_of
from tests.support.sipp import SippRun, sipp_path

pytestmark = pytest.mark.wire

NODE = """
debug=2
log_stderror=yes
listen=udp:{ip}:{port}
disable_tcp=yes
auto_aliases=no
{db_module}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
""" + RPC_CFG + r"""
modparam("usrloc", "db_url", "{url}")
modparam("usrloc", "db_mode", 3)
modparam("usrloc", "timer_interval", 2)
modparam("registrar", "gruu_enabled", 0)
modparam("registrar", "min_expires", 1)
modparam("tm", "fr_timer", 2000)

request_route {
	if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
	if (is_method("REGISTER")) {
		save("location");  # replies itself, also with its 500
		exit;
	}
	if (is_method("MESSAGE")) {
		if (lookup("location")) { append_to_reply("X-Found: $ru\r\nX-Node: {node}\r\n"); sl_send_reply("200", "Found"); exit; }
		sl_send_reply("404", "Not Found");
		exit;
	}
	if (is_method("INVITE")) {
		if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
		append_hf("X-Node: {node}\r\n");
	}
	t_relay();
}
"""

REDIS_MODULE = f"""loadmodule "db_redis.so"
modparam("db_redis", "schema_path", "{SCHEMA}")
modparam("db_redis", "keys", "version=entry:table_name")
modparam("db_redis", "keys", "location=entry:ruid&usrdom:username")
modparam("db_redis", "expire_by", "location=expires")"""


@pytest.fixture(scope="module")
def redis_aof():
    """A Redis of its own, with an append-only file: stopped and started again it
    keeps what it had acknowledged."""
    srv = RedisServer()
    if not srv.available or not os.path.isdir(SCHEMA):
        pytest.skip("redis-server, redis-py or Kamailio's db_redis schema files missing")
    srv.start(appendonly=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def redis_lab(redis_aof):
    with ClusterLab(NODE, nodes=2, front=None, children=1,
                    fmt={"db_module": REDIS_MODULE, "url": redis_aof.url}) as lab:
        yield lab, redis_aof


def _call(node_addr, user: str, uas_port: int, n: int = 1) -> dict:
    uas = SippRun("tm_uas_call.xml", "", "-aa", "-d", "50", "-m", str(n), local_port=uas_port).start()
    try:
        time.sleep(0.3)
        uac = SippRun("tm_uac_call.xml", f"{node_addr[0]}:{node_addr[1]}", "-s", user, "-m", str(n),
                      "-r", "20", "-timeout", "20", "-timeout_error")
        return uac.run(timeout=30)
    finally:
        uas.kill()


def test_register_on_one_node_call_through_the_other(redis_lab):
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    lab, redis = redis_lab
    a, b = lab.nodes[0].addr, lab.nodes[1].addr
    uas_port = free_udp_port()
    with SipClient(a) as to_a, SipClient(b) as to_b:
        assert status_of(register(to_a, "carol", f"sip:carol@127.0.0.1:{uas_port}")) == 200
        found = find(to_b, "carol")
        assert status_of(found) == 200 and b"X-Node: 2" in found
        st = _call(b, "carol", uas_port, n=3)
        assert int(st["SuccessfulCall(C)"]) == 3, st
        # one round trip to Redis per INVITE (the mapping set and its rows in one script)
        r = redis.client()
        r.config_resetstat()
        st = _call(b, "carol", uas_port, n=5)
        assert int(st["SuccessfulCall(C)"]) == 5, st
        calls = {k: v["calls"] for k, v in r.info("commandstats").items()}
        calls.pop("cmdstat_config|resetstat", None)
        # the script's EVALSHA is the one command sent; SMEMBERS and HGETALL run inside it
        assert calls == {"cmdstat_evalsha": 5, "cmdstat_smembers": 5, "cmdstat_hgetall": 5}, calls

        # unregistered through node 2: gone for node 1
        assert status_of(register(to_b, "carol", f"sip:carol@127.0.0.1:{uas_port}", expires=0, cseq=9)) == 200
        assert status_of(find(to_a, "carol")) == 404
        # an expiry is seen by both, and Redis drops the row itself (expire_by)
        assert status_of(register(to_a, "dave", "sip:dave@127.0.0.1:5999", expires=2)) == 200
        assert status_of(find(to_b, "dave")) == 200
        time.sleep(2.5)
        assert status_of(find(to_a, "dave")) == 404
        assert status_of(find(to_b, "dave")) == 404
        deadline = time.monotonic() + 5
        while r.keys("location:entry::*") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.keys("location:entry::*") == []


def test_redis_outage_500_then_recovery(redis_lab):
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    lab, redis = redis_lab
    a, b = lab.nodes[0].addr, lab.nodes[1].addr
    n = 50
    st = SippRun("register_load.xml", f"{a[0]}:{a[1]}", "-m", str(n), "-r", "500", "-l", "50",
                 "-timeout", "20", "-timeout_error").run(timeout=30)
    assert int(st["SuccessfulCall(C)"]) == n, st  # 50 bindings acknowledged
    redis.halt()
    t_down = time.monotonic()
    try:
        with SipClient(a) as to_a, SipClient(b) as to_b:
            t0 = time.monotonic()
            reply = register(to_a, "erin", "sip:erin@127.0.0.1:5998")
            assert status_of(reply) == 500, reply
            assert time.monotonic() - t0 < 3  # a bounded wait, not a hang
            assert status_of(register(to_b, "erin", "sip:erin@127.0.0.1:5998")) == 500
            assert status_of(find(to_b, "load1")) == 404  # no record readable (Kamailio: the same)
            time.sleep(0.5)
            logs = lab.nodes[0].log()
            assert logs.count("usrloc: database") >= 1 and "unreachable" in logs
            # a second failure in the same outage adds no second "unreachable" line
            register(to_a, "erin", "sip:erin@127.0.0.1:5998")
            time.sleep(max(0.0, 10 - (time.monotonic() - t_down)))
    finally:
        redis.resume()
    with SipClient(a) as to_a, SipClient(b) as to_b:
        deadline = time.monotonic() + 5
        while status_of(register(to_a, "erin", "sip:erin@127.0.0.1:5998")) != 200:
            assert time.monotonic() < deadline, lab.nodes[0].log()[-3000:]
            time.sleep(0.3)
        # nothing that had been acknowledged is lost; both nodes read it again
        missing = [i for i in range(1, n + 1)
                   if status_of(find(to_b if i % 2 else to_a, f"load{i}")) != 200]
        assert missing == []
        assert status_of(find(to_b, "erin")) == 200
    log_a = lab.nodes[0].log()
    assert log_a.count("unreachable") == 1, log_a[-3000:]
    assert "is back after" in log_a


def test_postgres_two_nodes(tmp_path):
    """The same sharing on one PostgreSQL database (the lab makes it, with `location`)."""
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    from tests.db.pgserver import pg_server
    if pg_server() is None:
        pytest.skip("PostgreSQL or psycopg not installed")
    with ClusterLab(NODE.replace("{url}", "{db_url}"), nodes=2, front=None, children=1, pg=True,
                    fmt={"db_module": ""}) as lab:
        a, b = lab.nodes[0].addr, lab.nodes[1].addr
        uas_port = free_udp_port()
        with SipClient(a) as to_a, SipClient(b) as to_b:
            assert status_of(register(to_a, "frank", f"sip:frank@127.0.0.1:{uas_port}")) == 200
            st = _call(b, "frank", uas_port, n=2)
            assert int(st["SuccessfulCall(C)"]) == 2, st
            assert status_of(register(to_b, "frank", f"sip:frank@127.0.0.1:{uas_port}", expires=0, cseq=3)) == 200
            assert status_of(find(to_a, "frank")) == 404


LOOKUP_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="lookup_load">
  <send retrans="500"><![CDATA[
      MESSAGE sip:load[call_number]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:lk@[local_ip]>;tag=[pid]M[call_number]
      To: <sip:load[call_number]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 MESSAGE
      Max-Forwards: 70
      Content-Length: 0

    ]]></send>
  <recv response="200"/>
</scenario>
"""


@pytest.mark.slow
def test_ten_thousand_users_across_two_nodes(redis_aof, tmp_path):
    """10,000 AORs registered through node 1 are every one found through node 2."""
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    redis_aof.flush()
    n = 10000
    with ClusterLab(NODE, nodes=2, front=None, children=2,
                    fmt={"db_module": REDIS_MODULE, "url": redis_aof.url}) as lab:
        a, b = lab.nodes[0].addr, lab.nodes[1].addr
        st = SippRun("register_load.xml", f"{a[0]}:{a[1]}", "-m", str(n), "-r", "5000", "-l", "100",
                     "-timeout", "120", "-timeout_error").run(timeout=150)
        assert int(st["SuccessfulCall(C)"]) == n, st
        scen = tmp_path / "lookup.xml"
        scen.write_text(LOOKUP_XML)
        st = SippRun(str(scen), f"{b[0]}:{b[1]}", "-m", str(n), "-r", "5000", "-l", "100",
                     "-timeout", "120", "-timeout_error").run(timeout=150)
        assert int(st["SuccessfulCall(C)"]) == n, st
    assert len(redis_aof.client().keys("location:entry::*")) == n
