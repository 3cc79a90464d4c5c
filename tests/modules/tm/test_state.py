"""The client and server state machines, in one process: requests through tm's
relay, replies through its reply hook, time through run_timers(now)."""

from __future__ import annotations

import time

from kamapy_modules.tm import functions as fn
from kamapy_modules.tm import relay, timers
from kamapy_modules.tm.matching import invite_tid
from kamapy_modules.tm.replies import reply_hook
from kamapy_modules.tm.store import store

from kamapy.module import FAILURE_ROUTE
from kamapy.sip.msg import SipMsg
from tests.modules.tm.sipmsgs import ack_for, cancel_for, method, reply_to, request, same_request, status


def relayed_invite(lab, **kw):
    inv = request(lab, **kw)
    assert relay.relay(inv) == 1
    assert status(lab.uac.recv()) == 100
    out = lab.uas.recv()
    assert method(out) == "INVITE"
    return inv, out


def test_invite_is_forwarded_with_our_branch_and_100(lab):
    inv, out = relayed_invite(lab)
    msg = SipMsg(out)
    assert msg.via1.branch.startswith("z9hG4bK") and msg.via1.port == lab.si.port
    assert msg.vias[1].branch == inv.via1.branch
    assert store().count() == 1


def test_timer_a_retransmits_until_a_provisional(lab):
    inv, out = relayed_invite(lab)
    now = time.time()
    timers.run_timers(now + 0.55)
    assert lab.uas.recv(0.5) == out            # T1
    timers.run_timers(now + 1.6)
    assert lab.uas.recv(0.5) == out            # 2*T1 later
    assert reply_hook(reply_to(lab, out, 180))
    assert status(lab.uac.recv()) == 180
    timers.run_timers(now + 4)
    assert lab.uas.drain() == []               # stopped by the 180


def test_100_is_absorbed_and_provisionals_relayed(lab):
    _inv, out = relayed_invite(lab)
    assert reply_hook(reply_to(lab, out, 100))
    assert lab.uac.drain() == []
    assert reply_hook(reply_to(lab, out, 180))
    assert status(lab.uac.recv()) == 180


def test_200_relayed_then_transaction_freed_after_wait(lab):
    inv, out = relayed_invite(lab)
    assert reply_hook(reply_to(lab, out, 200))
    got = lab.uac.recv()
    assert status(got) == 200
    assert SipMsg(got).via1.branch == inv.via1.branch  # our Via removed
    # a retransmitted 200 is relayed again (2xx are end to end for INVITE)
    assert reply_hook(reply_to(lab, out, 200))
    assert status(lab.uac.recv()) == 200
    timers.run_timers(time.time() + 6)
    assert store().count() == 0


def test_request_retransmission_gets_last_reply(lab):
    inv, out = relayed_invite(lab)
    assert relay.check_trans(same_request(lab, inv)) == 0
    assert status(lab.uac.recv()) == 100
    assert reply_hook(reply_to(lab, out, 180))
    lab.uac.recv()
    assert relay.relay(same_request(lab, inv)) == 0
    assert status(lab.uac.recv()) == 180
    assert lab.uas.drain() == []                   # not forwarded again


def test_negative_reply_is_acked_and_retransmitted_until_ack(lab):
    inv, out = relayed_invite(lab)
    assert reply_hook(reply_to(lab, out, 486))
    ack = lab.uas.recv()
    assert method(ack) == "ACK"
    ackmsg = SipMsg(ack)
    assert ackmsg.via1.branch == SipMsg(out).via1.branch
    assert ackmsg.to_hdr.tag == "callee"
    busy = lab.uac.recv()
    assert status(busy) == 486
    now = time.time()
    timers.run_timers(now + 0.6)
    assert status(lab.uac.recv()) == 486             # timer G
    assert relay.relay(ack_for(lab, inv, busy)) == 0  # absorbed
    assert lab.uas.drain() == []
    timers.run_timers(now + 3)
    assert lab.uac.drain() == []


def test_cancel(lab):
    inv, out = relayed_invite(lab)
    assert reply_hook(reply_to(lab, out, 180))
    lab.uac.recv()
    cancel = cancel_for(lab, inv)
    assert relay.check_trans(cancel) == 1
    assert relay.relay(cancel) == 1
    assert status(lab.uac.recv()) == 200               # 200 to the CANCEL
    down = lab.uas.recv()
    assert method(down) == "CANCEL"
    assert SipMsg(down).via1.branch == SipMsg(out).via1.branch
    assert reply_hook(reply_to(lab, down, 200))       # the callee's 200 to our CANCEL: absorbed
    assert reply_hook(reply_to(lab, out, 487))
    assert method(lab.uas.recv()) == "ACK"
    assert status(lab.uac.recv()) == 487
    assert relay.relay(same_request(lab, cancel)) == 0  # a retransmitted CANCEL
    assert status(lab.uac.recv()) == 200


def test_cancel_before_any_reply_waits_for_the_provisional(lab):
    inv, out = relayed_invite(lab)
    assert relay.relay(cancel_for(lab, inv)) == 1
    assert status(lab.uac.recv()) == 200
    assert lab.uas.drain() == []                     # cancel_b_method 1: not yet
    assert reply_hook(reply_to(lab, out, 180))
    assert method(lab.uas.recv()) == "CANCEL"


def test_non_invite_timeout_408(lab):
    req = request(lab, "MESSAGE")
    fn.w_t_set_fr(req, 0, 2000)
    assert relay.relay(req) == 1
    out = lab.uas.recv()
    assert lab.uac.drain() == []                     # no 100 for non-INVITE
    now = time.time()
    timers.run_timers(now + 0.6)
    assert lab.uas.recv() == out                     # timer E
    timers.run_timers(now + 2.1)
    assert status(lab.uac.recv()) == 408


def test_invite_fr_inv_timeout_cancels_and_408(lab):
    inv = request(lab)
    fn.w_t_set_fr(inv, 3000, 1000)
    relay.relay(inv)
    lab.uac.recv()
    out = lab.uas.recv()
    assert reply_hook(reply_to(lab, out, 180))
    lab.uac.recv()
    timers.run_timers(time.time() + 3.2)
    assert method(lab.uas.recv()) == "CANCEL"
    assert status(lab.uac.recv()) == 408


def test_parallel_fork_2xx_wins_and_cancels_the_rest(lab):
    inv = request(lab)
    inv.branches.append(_branch(f"sip:two@127.0.0.1:{lab.uas2.port}"))
    assert relay.relay(inv) == 1
    lab.uac.recv()
    out1, out2 = lab.uas.recv(), lab.uas2.recv()
    assert SipMsg(out2).ruri == f"sip:two@127.0.0.1:{lab.uas2.port}"
    assert reply_hook(reply_to(lab, out2, 180, src_port=lab.uas2.port))
    assert status(lab.uac.recv()) == 180
    assert reply_hook(reply_to(lab, out1, 200))
    assert status(lab.uac.recv()) == 200
    assert method(lab.uas2.recv()) == "CANCEL"
    assert reply_hook(reply_to(lab, out2, 487, src_port=lab.uas2.port))
    assert method(lab.uas2.recv()) == "ACK"
    assert lab.uac.drain() == []                     # the 487 is not relayed


def test_parallel_fork_best_negative_reply(lab):
    inv = request(lab)
    inv.branches.append(_branch(f"sip:two@127.0.0.1:{lab.uas2.port}"))
    relay.relay(inv)
    lab.uac.recv()
    out1, out2 = lab.uas.recv(), lab.uas2.recv()
    assert reply_hook(reply_to(lab, out1, 503))
    assert lab.uac.drain() == []                     # branch 2 still pending
    assert reply_hook(reply_to(lab, out2, 404, src_port=lab.uas2.port))
    assert status(lab.uac.recv()) == 404             # 4xx beats 5xx


def test_6xx_cancels_other_branches_and_wins(lab):
    inv = request(lab)
    inv.branches.append(_branch(f"sip:two@127.0.0.1:{lab.uas2.port}"))
    relay.relay(inv)
    lab.uac.recv()
    out1, out2 = lab.uas.recv(), lab.uas2.recv()
    assert reply_hook(reply_to(lab, out2, 180, src_port=lab.uas2.port))
    lab.uac.recv()
    assert reply_hook(reply_to(lab, out1, 603))
    assert method(lab.uas.recv()) == "ACK"
    assert method(lab.uas2.recv()) == "CANCEL"
    assert reply_hook(reply_to(lab, out2, 487, src_port=lab.uas2.port))
    assert status(lab.uac.recv()) == 603


def test_failure_route_serial_forking_with_avps(lab):
    seen = {}

    def failure(msg, ctx):
        seen["code"] = fn._status_for_check(msg)
        seen["avp"] = msg.avps
        seen["timeout"] = fn.w_t_branch_timeout(msg)
        msg.set_ruri(f"sip:next@127.0.0.1:{lab.uas2.port}")
        return relay.relay(msg)

    lab.routes.failure["NEXT"] = failure
    inv = request(lab)
    inv.avps = {"who": ["first"]}
    fn.w_t_on_failure(inv, "NEXT")
    relay.relay(inv)
    lab.uac.recv()
    out = lab.uas.recv()
    assert reply_hook(reply_to(lab, out, 486))
    assert method(lab.uas.recv()) == "ACK"
    assert seen == {"code": 486, "avp": {"who": ["first"]}, "timeout": -1}
    out2 = lab.uas2.recv()
    assert SipMsg(out2).ruri == f"sip:next@127.0.0.1:{lab.uas2.port}"
    assert lab.uac.drain() == []                      # 486 not relayed: a new branch is out
    assert reply_hook(reply_to(lab, out2, 200, src_port=lab.uas2.port))
    assert status(lab.uac.recv()) == 200


def test_failure_route_t_reply(lab):
    def failure(msg, ctx):
        assert msg.ctx.route_type == FAILURE_ROUTE
        return fn.t_reply(msg, 480, "Gone Fishing")

    lab.routes.failure["F"] = failure
    inv = request(lab)
    fn.w_t_on_failure(inv, "F")
    relay.relay(inv)
    lab.uac.recv()
    out = lab.uas.recv()
    reply_hook(reply_to(lab, out, 404))
    got = lab.uac.recv()
    assert status(got) == 480 and b"Gone Fishing" in got


def test_onreply_route_sees_avps_and_can_drop_provisionals(lab):
    seen = []

    def onreply(msg, ctx):
        seen.append((msg.status, msg.avps))
        if msg.status == 183:
            from kamapy.cfg.run_context import DROP, EXIT
            ctx.flags |= DROP | EXIT
        return 1

    lab.routes.onreply["R"] = onreply
    inv = request(lab)
    inv.avps = {"x": [1]}
    fn.w_t_on_reply(inv, "R")
    relay.relay(inv)
    lab.uac.recv()
    out = lab.uas.recv()
    reply_hook(reply_to(lab, out, 183))
    assert lab.uac.drain() == []
    reply_hook(reply_to(lab, out, 180))
    assert status(lab.uac.recv()) == 180
    assert seen == [(183, {"x": [1]}), (180, {"x": [1]})]


def test_newtran_then_t_reply_and_retransmission(lab):
    req = request(lab, "OPTIONS")
    assert relay.newtran(req) == 1
    assert fn.t_reply(req, 200, "OK") == 1
    assert status(lab.uac.recv()) == 200
    assert relay.newtran(same_request(lab, req)) == 0
    assert status(lab.uac.recv()) == 200


def test_stateful_send_reply_hook(lab):
    req = request(lab, "OPTIONS")
    assert fn.stateful_send_reply(req, 200, "OK") is None  # no transaction: sl answers
    relay.newtran(req)
    assert fn.stateful_send_reply(req, 404, "Nope") == 1
    assert status(lab.uac.recv()) == 404


def test_reply_of_unknown_branch_goes_to_the_core(lab):
    inv, out = relayed_invite(lab)
    foreign = reply_to(lab, out, 200)
    data = foreign.data.replace(SipMsg(out).via1.branch.encode(), b"z9hG4bKsomeoneelse")
    assert not reply_hook(SipMsg(data))


def test_ack_to_2xx_is_not_absorbed(lab):
    inv, out = relayed_invite(lab)
    reply_hook(reply_to(lab, out, 200))
    lab.uac.recv()
    ack = request(lab, "ACK", to_tag="callee", callid=inv.callid)
    assert relay.absorb_ack(ack) is None


def test_cancel_tid_is_the_invites(lab):
    inv = request(lab)
    assert invite_tid(cancel_for(lab, inv)) == relay.cached_tid(inv)


def _branch(uri):
    from kamapy.pv.dset import Branch
    return Branch(uri)


def test_failure_route_append_branch_does_not_refork_the_ruri(lab):
    def failure(msg, ctx):
        msg.branches.append(_branch(f"sip:three@127.0.0.1:{lab.uas2.port}"))
        return relay.relay(msg)

    lab.routes.failure["F"] = failure
    inv = request(lab)
    fn.w_t_on_failure(inv, "F")
    relay.relay(inv)
    lab.uac.recv()
    out = lab.uas.recv()
    reply_hook(reply_to(lab, out, 404))
    assert method(lab.uas.recv()) == "ACK"
    assert lab.uas.drain() == []                       # the first callee is not tried again
    assert SipMsg(lab.uas2.recv()).ruri.startswith("sip:three@")


def test_branch_failure_event_route(lab):
    seen = []
    lab.routes.event = {"tm:branch-failure:BF": lambda msg, ctx: seen.append(fn.w_t_check_status(msg, "486"))}
    inv = request(lab)
    fn.w_t_on_branch_failure(inv, "BF")
    relay.relay(inv)
    lab.uac.recv()
    reply_hook(reply_to(lab, lab.uas.recv(), 486))
    assert seen == [1]
    assert status(lab.uac.recv()) == 486
