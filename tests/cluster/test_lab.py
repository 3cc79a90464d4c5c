"""The cluster lab itself: three nodes and a front start, answer, RPC, die and come back."""

from __future__ import annotations

import pytest

from tests.cluster.lab import RPC_CFG, ClusterLab
from tests.support.kamailio import kamailio_path
from tests.support.sipclient import SipClient

pytestmark = pytest.mark.wire

NODE = """
debug=2
listen=udp:{ip}:{port}
disable_tcp=yes
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
""" + RPC_CFG + r"""
request_route {
    append_to_reply("X-Node: {node}\r\n");
    sl_send_reply("200", "OK");
}
"""


@pytest.mark.parametrize("front", ["kamapy", "kamailio"])
def test_lab_nodes_front_kill_restart(front):
    if front == "kamailio" and kamailio_path() is None:
        pytest.skip("kamailio not installed")
    with ClusterLab(NODE, nodes=3, children=1, front=front) as lab:
        assert [n.host for n in lab.nodes] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        assert len({n.port for n in lab.nodes}) == 1
        seen = set()
        with SipClient(lab.front.addr) as c:
            for _ in range(6):  # round robin over the three
                r = c.request(c.options(ruri="sip:x@cluster.test"))
                assert r and r.startswith(b"SIP/2.0 200")
                seen.add(r.split(b"X-Node: ")[1][:1])
        assert seen == {b"1", b"2", b"3"}
        assert lab.rpc(1, "core.version")
        pid = lab.nodes[1].pid
        lab.kill(1)
        assert not lab.nodes[1].running
        lab.restart(1)
        assert lab.nodes[1].pid != pid and lab.rpc(1, "core.version")
