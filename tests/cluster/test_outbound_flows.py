"""RFC 5626 across the cluster (issue 22): two kamapy nodes on 127.0.0.2 / .3 that are
edge proxies (outbound + path) and registrars on one shared Redis location table. One
UA (one +sip.instance) keeps two TCP flows: reg-id 1 through node A, reg-id 2 through
node B. Each node puts a flow token for the UA's connection into the Path it adds, so
lookup() on any node forks to both flows, each through the node that holds it, and
that node's loose_route() sends the INVITE down the UA's own connection. SIGKILL node A:
the next INVITE still reaches the UA at once, through B (the branch towards A just
times out beside it), with no re-REGISTER."""

from __future__ import annotations

import os
import time

import pytest

from tests.cluster.lab import RPC_CFG, ClusterLab
from tests.cluster.test_shared_registrations import REDIS_MODULE
from tests.db.test_redis_location import SCHEMA
from tests.modules.outbound.stream_ua import StreamUA, header
from tests.support.redisserver import RedisServer
from tests.support.sipclient import SipClient

pytestmark = pytest.mark.wire

NODE = """
debug=2
log_stderror=yes
listen=udp:{ip}:{port}
listen=tcp:{ip}:{port}
auto_aliases=no
{db_module}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "outbound.so"
loadmodule "rr.so"
loadmodule "path.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
""" + RPC_CFG + r"""
modparam("usrloc", "db_url", "{url}")
modparam("usrloc", "db_mode", 3)
modparam("registrar", "gruu_enabled", 0)
modparam("registrar", "use_path", 1)
modparam("registrar", "outbound_mode", 1)
modparam("registrar", "regid_mode", 1)
modparam("registrar", "flow_timer", 25)
modparam("outbound", "flow_token_secret", "cluster")
modparam("tm", "fr_timer", 2000)
modparam("tm", "fr_inv_timer", 4000)

request_route {
	if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
	if (is_method("REGISTER")) {
		if (!is_present_hf("Path")) {
			# the edge pass: our Path (flow token, ;ob), then ourselves as the registrar
			add_path();
			$du = "sip:{ip}:{port}";
			t_relay();
			exit;
		}
		save("location");
		exit;
	}
	if (is_present_hf("Route")) {
		# a request for a flow of ours (our Path came back as its Route)
		check_flow_token();
		if ($rc == -5) { sl_send_reply("430", "Flow Failed"); exit; }
		loose_route();
		append_hf("X-Flow-Node: {node}\r\n");
		t_relay();
		exit;
	}
	if (is_method("INVITE")) {
		if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
		append_hf("X-Lookup-Node: {node}\r\n");
	}
	t_relay();
}
"""


@pytest.fixture(scope="module")
def lab():
    srv = RedisServer()
    if not srv.available or not os.path.isdir(SCHEMA):
        pytest.skip("redis-server, redis-py or Kamailio's db_redis schema files missing")
    srv.start()
    try:
        with ClusterLab(NODE, nodes=2, front=None, children=2,
                        fmt={"db_module": REDIS_MODULE, "url": srv.url}) as lab:
            yield lab
    finally:
        srv.stop()


def _invite(caller: SipClient, user: str, n: int) -> bytes:
    return (f"INVITE sip:{user}@example.com SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {caller.host}:{caller.port};branch=z9hG4bK-cl{n}-{time.time_ns()};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:bob@example.com>;tag=c{n}\r\nTo: <sip:{user}@example.com>\r\n"
            f"Call-ID: cl-ob-{n}-{time.time_ns()}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:bob@{caller.host}:{caller.port}>\r\nContent-Length: 0\r\n\r\n").encode()


def _final(caller: SipClient, n: int, timeout: float) -> str | None:
    """The final reply to INVITE n (retransmissions of an earlier, un-ACKed one skipped)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        data = caller.recv(left)
        if data is None:
            return None
        text = data.decode("latin-1")
        if text.startswith("SIP/2.0 ") and text[8] != "1" and f"Call-ID: cl-ob-{n}-" in text:
            return text
    return None


def test_two_flows_one_instance_survive_a_node(lab):
    a, b = lab.nodes[0].addr, lab.nodes[1].addr
    ua_a = StreamUA(a, user="olivia", reg_id=1)
    ua_b = StreamUA(b, user="olivia", reg_id=2, instance=ua_a.instance)
    try:
        for ua in (ua_a, ua_b):
            ok = ua.register()
            assert ok is not None and ok.startswith("SIP/2.0 200"), (ok, lab.logs())
            assert "outbound" in ",".join(header(ok, "Require")) and header(ok, "Flow-Timer") == ["25"]
        # both flows of the one instance are bound, each with its own reg-id
        assert "reg-id=1" in ok and "reg-id=2" in ok, ok

        with SipClient(b) as caller:
            # both nodes alive: the lookup on B forks to both flows, each down its connection
            caller.send(_invite(caller, "olivia", 1))
            got_a, got_b = ua_a.read_request("INVITE"), ua_b.read_request("INVITE")
            assert got_a is not None and got_a.startswith("INVITE "), lab.logs()
            assert got_b is not None and got_b.startswith("INVITE "), lab.logs()
            assert header(got_a, "X-Flow-Node") == ["1"] and header(got_b, "X-Flow-Node") == ["2"]
            ua_b.answer(got_b, 486, "Busy Here")
            ua_a.answer(got_a, 486, "Busy Here")
            reply = _final(caller, 1, 5)
            assert reply is not None and reply.startswith("SIP/2.0 486"), reply

            lab.kill(0)  # node A and its connection to the UA are gone
            t0 = time.monotonic()
            caller.send(_invite(caller, "olivia", 2))
            got = ua_b.read_request("INVITE")
            reached = time.monotonic() - t0
            assert got is not None and got.startswith("INVITE "), lab.logs()
            assert header(got, "X-Flow-Node") == ["2"]
            assert reached < 1.0, reached  # at once: no wait for A's branch, no re-REGISTER
            ua_b.answer(got, 200, "OK")
            reply = _final(caller, 2, 3)
            assert reply is not None and reply.startswith("SIP/2.0 200"), reply
            assert time.monotonic() - t0 < 1.5
    finally:
        ua_a.close()
        ua_b.close()
