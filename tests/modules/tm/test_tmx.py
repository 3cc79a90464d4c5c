"""tmx: $T_* pseudo-variables, t_precheck_trans, the statistics; tm.stats; branch_route."""

from __future__ import annotations

from kamapy_modules import tmx
from kamapy_modules.tm import functions as fn
from kamapy_modules.tm import relay
from kamapy_modules.tm import stats as tm_stats
from kamapy_modules.tm.replies import reply_hook
from kamapy_modules.tmx import precheck
from kamapy_modules.tmx.pvs import PVS  # noqa: F401 (registers the PVs)

from kamapy.pv import parse_pv
from kamapy.sip.lumps import append_header
from kamapy.sip.msg import SipMsg
from tests.modules.tm.sipmsgs import method, reply_to, request, same_request, status


def test_t_pvs_in_onreply_and_failure_routes(lab):
    seen = {}

    def onreply(msg, ctx):
        seen["onreply"] = (parse_pv("$T_reply_code").get(msg), parse_pv("$T_branch_idx").get(msg),
                           parse_pv("$T_req($rU)").get(msg), parse_pv("$T_rpl($rs)").get(msg))
        return 1

    def failure(msg, ctx):
        seen["failure"] = (parse_pv("$T_reply_code").get(msg), parse_pv("$T_reply_reason").get(msg),
                           parse_pv("$T_rpl($rr)").get(msg), parse_pv("$T_req($rU)").get(msg))
        return 1

    lab.routes.onreply["R"] = onreply
    lab.routes.failure["F"] = failure
    inv = request(lab, user="carol")
    fn.w_t_on_reply(inv, "R")
    fn.w_t_on_failure(inv, "F")
    relay.relay(inv)
    lab.uac.recv()
    out = lab.uas.recv()
    reply_hook(reply_to(lab, out, 486))
    assert seen["onreply"] == (486, 0, "carol", 486)
    assert seen["failure"] == (486, "Busy Here", "Busy Here", "carol")
    assert parse_pv("$T_reply_code").get(inv) == 486   # request route: the last reply sent


def test_t_reply_ruid_is_the_branch_contacts(lab):
    """$T_reply_ruid: the usrloc ruid the branch was made with (registrar lookup puts it
    on the R-URI and the branches), in onreply_route and failure_route."""
    from kamapy.pv.dset import append_branch
    seen = {}

    def onreply(msg, ctx):
        seen.setdefault("onreply", []).append(parse_pv("$T_reply_ruid").get(msg))
        return 1

    def failure(msg, ctx):
        seen["failure"] = parse_pv("$T_reply_ruid").get(msg)
        return 1

    lab.routes.onreply["R"] = onreply
    lab.routes.failure["F"] = failure
    inv = request(lab, user="dave")
    inv.ruid = "uloc-1"
    append_branch(inv, f"sip:dave2@127.0.0.1:{lab.uas2.port}", ruid="uloc-2")
    fn.w_t_on_reply(inv, "R")
    fn.w_t_on_failure(inv, "F")
    relay.relay(inv)
    assert parse_pv("$T_reply_ruid").get(inv) == ""  # request_route: not there (logged)
    out, out2 = lab.uas.recv(), lab.uas2.recv()
    reply_hook(reply_to(lab, out2, 404))
    reply_hook(reply_to(lab, out, 486))
    assert seen["onreply"] == ["uloc-2", "uloc-1"]
    assert seen["failure"] == "uloc-2"  # the 404 wins the pick


def test_precheck_catches_a_parallel_copy_only(lab):
    precheck.init()
    inv = request(lab)
    assert precheck.precheck(inv) == -1                  # first copy: handle it
    assert precheck.precheck(same_request(lab, inv)) == -1  # same process: not "another one"
    key = relay.cached_tid(inv)[0].encode()
    precheck.table().put(key, b"1", 0)                   # as if another process had it
    assert precheck.precheck(same_request(lab, inv)) == 1
    ack = request(lab, "ACK", to_tag="x")
    assert precheck.precheck(ack) == -1


def test_stats_shapes(lab):
    inv = request(lab)
    relay.relay(inv)
    lab.uac.recv()
    out = lab.uas.recv()
    reply_hook(reply_to(lab, out, 200))
    s = tm_stats.summary()
    assert set(s) == {"current", "waiting", "total", "total_local", "rpl_received", "rpl_generated",
                      "rpl_sent", "6xx", "5xx", "4xx", "3xx", "2xx", "created", "freed", "delayed_free"}
    assert s["current"] >= 1 and s["2xx"] >= 1 and s["rpl_received"] >= 1
    assert set(tmx.STAT_SOURCES) >= {"UAS_transactions", "inuse_transactions", "rpl_relayed", "2xx_transactions"}
    assert tmx._source("UAS_transactions")() == tm_stats.get(tm_stats.TRANSACTIONS)


def test_branch_route_changes_one_branch_only(lab):
    def branch(msg, ctx):
        if "two" in msg.current_uri:
            append_header(msg, "X-Branch: two")
        return 1

    lab.routes.branch["B"] = branch
    inv = request(lab)
    from kamapy.pv.dset import Branch
    inv.branches.append(Branch(f"sip:two@127.0.0.1:{lab.uas2.port}"))
    fn.w_t_on_branch(inv, "B")
    assert relay.relay(inv) == 1
    lab.uac.recv()
    one, two = SipMsg(lab.uas.recv()), SipMsg(lab.uas2.recv())
    assert one.get_header("X-Branch") is None
    assert two.header_value("X-Branch") == "two"
    assert not inv.lumps                                   # the request itself is untouched


def test_t_relay_to_tcp_is_refused(lab):
    inv = request(lab)
    assert fn.w_t_relay_to(inv, "tcp:127.0.0.1:5060") < 0
    assert lab.uas.drain() == []


def test_t_relay_error_sends_stateful_error(lab):
    inv = request(lab, user="nobody")
    inv.set_ruri("sip:nobody@[::1]:5999")  # no IPv6 socket: unresolvable, as Kamailio says
    rc = relay.relay(inv)
    assert rc < 0
    # delayed_reply: the error reply waits for the end of the script
    assert [d for d in lab.uac.drain(0.2) if status(d) != 100] == []
    relay.post_script(inv)
    got = [d for d in lab.uac.drain(0.2) if status(d) != 100]
    assert got and status(got[0]) == 478
    assert method(got[0]) is None


def test_t_relay_error_reply_skipped_when_the_script_replied(lab):
    inv = request(lab, user="nobody")
    inv.set_ruri("sip:nobody@[::1]:5999")
    assert relay.relay(inv) < 0
    assert fn.t_reply(inv, 404, "Not Here") == 1
    relay.post_script(inv)
    got = [status(d) for d in lab.uac.drain(0.2) if status(d) != 100]
    assert got == [404]


def test_t_reply_callid(lab):
    inv = request(lab)
    relay.relay(inv)
    lab.uac.recv()
    assert tmx.w_t_reply_callid(inv, "no-such-call", "1", 480, "x") == -1
    assert tmx.w_t_reply_callid(inv, inv.callid, inv.cseq.number, 480, "Replied remotely") == 1
    got = lab.uac.recv()
    assert status(got) == 480 and b"Replied remotely" in got
