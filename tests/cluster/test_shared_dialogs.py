"""Issue 22's dialog acceptance on the cluster lab: three kamapy nodes sharing their
dialogs through Redis (modules/dialog/replication.py) behind the dispatcher front,
SIPp UAs. Calls up across the nodes are listed on every node; one node SIGKILLed with
its calls up: their BYEs, which the front fails over to a live node, end them there,
and no dialog or profile count is left anywhere.

The nodes take each other's address as their own (alias=), so the Route entry of the
dead node is popped by the survivor, whose dialog module finds the dialog in Redis
and takes it over; the front fails an in-dialog request over to another node when
its node does not answer (the NODE_DOWN logic, for requests inside a dialog).

The nodes reach the UAs through the front (as UAs behind NAT must be, and as a Path
does it for registered users): a UA may answer to where its dialog's first request
came from rather than to the request's source -- SIPp's UAS does, and so answered
the survivor's BYE to the dead node, so the caller got the front's 408. Through the
front a UA always sees one peer; the front relays a node's in-dialog request with
no Route left by its R-URI. The same with Kamailio as the front."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cluster.lab import FRONT_CFG, RPC_CFG, ClusterLab
from tests.support.kamailio import kamailio_path
from tests.support.ports import free_udp_port
from tests.support.sipp import SippRun, sipp_path

pytestmark = [pytest.mark.wire, pytest.mark.slow]

SCEN = Path(__file__).resolve().parents[1] / "modules" / "dialog" / "scenarios"

NODE = r"""
debug=2
listen=udp:{ip}:{port}
alias=udp:127.0.0.2:{port}
alias=udp:127.0.0.3:{port}
alias=udp:127.0.0.4:{port}
disable_tcp=yes
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
loadmodule "dialog.so"
""" + RPC_CFG + r"""
modparam("tm", "fr_timer", 2000)
modparam("dialog", "profiles_with_value", "caller")
modparam("dialog", "profiles_no_value", "all")
modparam("dialog", "h_id_start", {node})
modparam("dialog", "h_id_step", 4)
modparam("dialog", "redis_url", "{redis_url}")
modparam("dialog", "redis_node", "n{node}")
modparam("dialog", "redis_node_ttl", 2)
request_route {
    if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (has_totag()) {
        if (loose_route()) {
            xlog("L_INFO", "INDLG $rm $ci status=$DLG_status\n");
            if ($du == $null) { $du = "sip:{front}"; }  # towards the UA: via the front
            t_relay();
            exit;
        }
        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("INVITE")) {
        dlg_manage();
        get_profile_size("caller", "$fU", "$var(n)");
        if ($var(n) >= 2) { sl_send_reply("486", "Too Many Calls"); exit; }
        set_dlg_profile("caller", "$fU");
        set_dlg_profile("all");
        record_route();
    }
    $du = "sip:{front}";  # the UAs are reached through the front, as in production
    t_relay();
}
"""

# the lab's front, with its in-dialog requests failed over to a live node as well
FRONT = FRONT_CFG.replace("""        if (loose_route()) {
            t_relay();
            exit;
        }""", """        if (loose_route()) {
            if (!is_method("ACK")) {
                t_on_failure("INDLG_DOWN");
            }
            t_relay();
            exit;
        }
        if (ds_is_from_list()) {
            # a node's in-dialog request towards a UA (no Route left): by the R-URI
            t_relay();
            exit;
        }""") + r"""
failure_route[INDLG_DOWN] {
    if (t_check_status("408") || (t_branch_timeout() && !t_branch_replied())) {
        ds_mark_dst("ip");
        if (ds_select_dst("1", "4")) {
            t_relay();
        }
    }
}
"""


def wait_for(fn, timeout: float = 8.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


@pytest.mark.parametrize("front", ["kamapy", "kamailio"])
def test_calls_survive_a_node_killed_with_them_up(front):
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    assert "INDLG_DOWN" in FRONT and FRONT.count("ds_is_from_list") == 2  # the replace above found the lab's block
    n = 6
    if front == "kamailio" and kamailio_path() is None:
        pytest.skip("kamailio not installed")
    with ClusterLab(NODE, nodes=3, front=front, front_cfg=FRONT, redis=True) as lab:
        r = lab.redis.client()
        uas_port = free_udp_port()
        uas = SippRun(str(SCEN / "dlg_uas.xml"), lab.front_hostport, "-m", str(n),
                      local_port=uas_port).start()
        uac = SippRun(str(SCEN / "cluster_uac.xml"), f"127.0.0.1:{uas_port}", "-rsa",
                      lab.front_hostport, "-s", "svc", "-m", str(n), "-r", "20", "-d", "7000",
                      "-timeout", "40", local_port=free_udp_port()).start()
        try:
            # the six calls, two per node (round robin), listed on every node
            def all_up():
                return all([d["state"] for d in lab.rpc(i, "dlg.list")] == [4] * n for i in range(3))
            assert wait_for(all_up), [lab.rpc(i, "dlg.list") for i in range(3)]
            owned = {i: 0 for i in range(3)}
            for d in lab.rpc(0, "dlg.list"):
                owned[d["h_id"] % 4 - 1] += 1
            assert owned == {0: 2, 1: 2, 2: 2}
            assert lab.rpc(2, "dlg.profile_get_size", "all") == n
            lab.kill(0)  # node 1 dies with two calls up
            assert lab.rpc(1, "dlg.profile_get_size", "all") == n  # still up: still counted
            uac.wait(40)
            uas.wait(10)
        finally:
            uac.kill()
            uas.kill()
        st = uac.stats()
        assert int(st["SuccessfulCall(C)"]) == n and int(st["FailedCall(C)"]) == 0, (st, lab.logs()[-6000:], Path(uac.dir, "err.log").read_text(errors="replace")[-3000:])
        for i in (1, 2):
            assert wait_for(lambda i=i: lab.rpc(i, "dlg.list") == []), lab.rpc(i, "dlg.list")
            assert lab.rpc(i, "dlg.profile_get_size", "all") == 0
        taken = sum("of a dead node" in lab.nodes[i].log() or "INDLG BYE" in lab.nodes[i].log()
                    for i in (1, 2))
        assert taken >= 1
        assert not list(r.scan_iter("kamapy:dlg:d:*"))
        assert not [k for k in r.scan_iter("kamapy:dlg:p:*") if r.zcard(k)]
