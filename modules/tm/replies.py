"""A reply from downstream (Kamailio: t_reply.c reply_received, t_should_relay_response).

Matched by our Via branch to its transaction and branch, under the transaction's
lock: onreply_route runs, then the reply is relayed, stored or absorbed:

  - 100 is absorbed (relay_100 aside); other 1xx are relayed while no final reply
    went upstream;
  - 2xx is relayed at once; for an INVITE every 2xx (of any branch, and their
    retransmissions) is relayed, and the other branches are CANCELed;
  - a negative final reply is ACKed downstream (INVITE), kept, and once no branch of
    the round is pending the best one goes through failure_route and upstream;
  - a 6xx CANCELs the other branches (unless disable_6xx_block);
  - replies to our CANCELs are absorbed.

Replies that are not ours return False: the core relays them statelessly.
"""

from __future__ import annotations

import logging
import time

from kamapy.module import TM_ONREPLY_ROUTE
from kamapy.sip.errors import SipParseError
from kamapy.sip.outgoing import build_reply_forward

from . import dns_failover, fast_reply, outbox, stats
from .cancel import (
    build_ack,
    cancel_pending,
    cancel_replied,
    on_canceled_provisional,
    reason_for,
    send_branch,
)
from .config import cfg
from .failure import branch_failure, conclude
from .matching import reply_tid
from .script import find_route, run_with
from .store import store
from .transaction import (
    B_CANCEL_PENDING,
    B_CANCEL_SENT,
    B_FINAL,
    B_REPLIED,
    B_SEND_FAILED,
    T_DISABLE_6XX,
    T_IS_INVITE,
    T_RPL_SND_SHIFT,
)
from .uas import final_sent, put_on_wait, send_upstream

log = logging.getLogger("kamapy.tm")


def reply_hook(msg) -> bool:
    """Part of tm's response function: True when tm took the reply (relayed or absorbed)."""
    if fast_reply.relay(msg):  # the plain 1xx/2xx in one C call (fast_reply.py)
        return True
    try:
        found = reply_tid(msg)
    except SipParseError:
        return False
    if found is None:
        return False
    tid, idx = found
    st = store()
    lock = st.lock(tid)
    opened = outbox.hold()
    try:
        t = st.load(tid)
        if t is None or idx >= len(t.branches):
            return False
        stats.inc(stats.RPL_RECEIVED)
        if t.wait_due and t.wait_due <= time.time():
            return True  # a late reply to a transaction about to be freed
        if t.cbs:
            from .callbacks import TMCB_RESPONSE_IN, run
            run(t, TMCB_RESPONSE_IN, msg, msg.status)
        handle_reply(t, idx, msg, lock, time.time())
        st.save(t)
    finally:
        st.unlock(lock)
        outbox.flush(opened)
    return True


def handle_reply(t, idx: int, msg, lock: int, now: float):
    code = msg.status
    b = t.branches[idx]
    cseq_method = msg.cseq.method
    if cseq_method != t.method:
        if cseq_method == "CANCEL":
            cancel_replied(b)
        stats.inc(stats.RPL_ABSORBED)
        return
    first_reply = not b.flags & B_REPLIED
    b.flags |= B_REPLIED

    if b.flags & B_FINAL:
        # a retransmitted final reply, or another one after a timeout
        if t.flags & T_IS_INVITE and 200 <= code < 300:
            send_upstream(t, build_reply_forward(msg), code)
            stats.inc(stats.RPL_RELAYED)
        elif t.flags & T_IS_INVITE and code >= 300:
            send_branch(b, build_ack(b.buf, msg))
            stats.inc(stats.RPL_ABSORBED)
        else:
            stats.inc(stats.RPL_ABSORBED)
        return

    if code < 200 and b.flags & (B_CANCEL_SENT | B_CANCEL_PENDING):
        b.retr_due = 0.0
        on_canceled_provisional(t, b, now)
        stats.inc(stats.RPL_ABSORBED)
        return

    name = b.onreply or t.on_reply
    if name:
        route = find_route("onreply", name)
        if route is not None:
            msg.flags = t.mflags
            msg.avps = t.avps
            msg.xavps = t.xavps
            msg.ruri_bflags = b.bflags  # the branch's flags, as Kamailio's setbflagsval(0, uac->branch_flags)
            ctx = run_with(t, lock, route, msg, TM_ONREPLY_ROUTE, branch=idx, reply=msg,
                           reply_code=code)
            t.mflags, t.avps, t.xavps = msg.flags, msg.avps, msg.xavps
            b.bflags = msg.ruri_bflags
            # set_reply_close() in onreply_route: added to the transaction's reply
            # flags (Kamailio's relay_reply ORs the reply's rpl_send_flags in)
            t.flags |= (msg.rpl_send_flags & 3) << T_RPL_SND_SHIFT
            if ctx is not None and ctx.dropped and code < 200:
                stats.inc(stats.RPL_ABSORBED)
                return

    if code < 200:
        _provisional(t, idx, b, msg, code, first_reply, now)
        return

    b.code = code
    b.reason = msg.reason
    b.flags |= B_FINAL
    b.retr_due = b.fr_due = 0.0
    b.cancel_due = 0.0
    if 200 <= code < 300:
        buf = build_reply_forward(msg)
        if t.flags & T_IS_INVITE and t.uas_code < 200:
            cancel_pending(t, now, reason_for(code), skip=idx)
        if t.uas_code < 200 or (t.flags & T_IS_INVITE and t.uas_code < 300):
            if t.uas_code < 200:
                t.relayed = idx
                final_sent(t, code, now)
            send_upstream(t, buf, code)
            stats.inc(stats.RPL_RELAYED)
        else:
            stats.inc(stats.RPL_ABSORBED)
        put_on_wait(t, now)
        return

    # a negative final reply
    if t.flags & T_IS_INVITE:
        send_branch(b, build_ack(b.buf, msg))
    if t.uas_code >= 200:
        stats.inc(stats.RPL_ABSORBED)
        return
    b.reply = build_reply_forward(msg)
    dns_failover.on_reply(t, idx, code, msg, now)  # 503: the next address of the target
    branch_failure(t, idx, lock, b.reply)
    if code >= 600 and t.flags & T_IS_INVITE and not (cfg.disable_6xx or t.flags & T_DISABLE_6XX):
        cancel_pending(t, now, reason_for(code), skip=idx)
    conclude(t, lock, now)


def _provisional(t, idx, b, msg, code, first_reply, now):
    prev = b.code
    b.code = code
    b.reason = msg.reason
    if t.flags & T_IS_INVITE:
        b.retr_due = 0.0  # timer A stops on any provisional reply
        if first_reply or cfg.restart_fr or (code >= 180 and code > prev):
            b.fr_due = now + t.fr_inv
    elif b.retr_due:
        # non-INVITE: once a provisional came, the next retransmission is T2 away (timer E)
        b.retr_ivl = t.t2
        b.retr_due = now + t.t2
    if t.uas_code >= 200 or (code == 100 and not cfg.relay_100):
        stats.inc(stats.RPL_ABSORBED)
        return
    send_upstream(t, build_reply_forward(msg), code)
    stats.inc(stats.RPL_RELAYED)


__all__ = ["reply_hook", "handle_reply", "B_SEND_FAILED"]
