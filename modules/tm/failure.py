"""The end of a forking round: every branch has a final reply (or timed out), none
was 2xx. Pick the best reply (RFC 3261 §16.7 as Kamailio ranks it), give
failure_route its chance (serial forking, a local reply), else relay the winner
(Kamailio: t_pick_branch, run_failure_handlers, relay_reply).
"""

from __future__ import annotations

import logging

from kamapy.module import BRANCH_FAILURE_ROUTE, FAILURE_ROUTE
from kamapy.pv.dset import RURI0_KEY
from kamapy.sip.msg import SipMsg

from . import stats
from .config import cfg
from .script import find_route, restore_request, run_with, save_script_state
from .transaction import B_SEND_FAILED, T_CANCELED, Transaction
from .uas import final_sent, reply_local, send_upstream

log = logging.getLogger("kamapy.tm")

# lower is better (Kamailio's resp_class_prio): 2xx, then 6xx, 3xx, 4xx, 5xx
_CLASS_PRIO = {0: 32000, 1: 11000, 2: 0, 3: 3000, 4: 4000, 5: 5000, 6: 1000}
# 4xx replies that carry something the caller can act on rank above the other 4xx
_GOOD_4XX = {1, 7, 15, 20, 84}


def reply_priority(code: int) -> int:
    cls = code // 100
    if cls >= 7:
        return 10000 + code
    xx = code % 100
    if cls == 4:
        return _CLASS_PRIO[4] + (xx if xx in _GOOD_4XX else 100 + xx)
    return _CLASS_PRIO[cls] + xx


def pick_branch(t: Transaction) -> int:
    """The branch whose reply wins; -2 while a branch of this round is pending; -1
    when no branch has a usable reply."""
    best, best_prio = -1, None
    for i in range(t.first_branch, len(t.branches)):
        b = t.branches[i]
        if b.flags & B_SEND_FAILED:
            continue
        if b.pending:
            return -2
        prio = reply_priority(b.code)
        if best_prio is None or prio < best_prio:
            best, best_prio = i, prio
    return best


def branch_failure(t: Transaction, idx: int, lock: int, reply=None):
    """event_route[tm:branch-failure:NAME] for a branch that ended negatively (set by
    t_on_branch_failure when the branch was made); it may add branches (RFC 5626 flow
    failover), which get the route only if it arms it again, as in Kamailio."""
    name = t.branches[idx].on_bf
    if not name or t.completed:
        return
    route = find_route("event", "tm:branch-failure:" + name)
    if route is None:
        return
    t.on_branch_failure = ""
    msg = restore_request(t)
    msg.module_data[RURI0_KEY] = msg.current_uri
    b = t.branches[idx]
    run_with(t, lock, route, msg, BRANCH_FAILURE_ROUTE, branch=idx, reply=reply, reply_code=b.code)
    save_script_state(t, msg)


def conclude(t: Transaction, lock: int, now: float):
    """Every branch of the round is done: failure_route, then the best reply upstream."""
    if t.completed:
        return
    best = pick_branch(t)
    if best == -2:
        return
    code = t.branches[best].code if best >= 0 else 500
    if t.cbs:
        from .callbacks import TMCB_ON_FAILURE, run
        run(t, TMCB_ON_FAILURE, None, code)
    if t.on_failure:
        route = find_route("failure", t.on_failure)
        t.on_failure = ""  # one run per round; the route sets it again for the next
        if route is not None:
            before = len(t.branches)
            msg = restore_request(t)
            msg.module_data[RURI0_KEY] = msg.current_uri
            reply = None
            if best >= 0 and t.branches[best].reply:
                reply = t.branches[best].reply
            run_with(t, lock, route, msg, FAILURE_ROUTE, branch=best, reply=reply, reply_code=code)
            save_script_state(t, msg)
            if t.completed:
                return  # t_reply in failure_route answered
            if len(t.branches) > before and pick_branch(t) == -2:
                return  # a new round of branches is out
            best = pick_branch(t)
            code = t.branches[best].code if best >= 0 else 500
    relay_final(t, best, code, now)


_AUTH_KEYS = ("www-authenticate", "proxy-authenticate")


def _challenges(t: Transaction) -> str | None:
    """The WWW-/Proxy-Authenticate lines of every branch that replied 401 or 407, in
    branch order, when there are two such branches or more; else None."""
    replies = [b.reply for b in t.branches if b.reply and b.code in (401, 407)]
    if len(replies) < 2:
        return None
    out = []
    for data in replies:
        m = SipMsg(data)
        out.extend(m.text[hf.start:hf.end] for hf in m.headers if hf.key in _AUTH_KEYS)
    return "".join(out)


def relay_final(t: Transaction, best: int, code: int, now: float):
    """Send the chosen negative reply upstream (a local one for a timeout)."""
    if best < 0:
        msg = restore_request(t)
        reply_local(t, msg, cfg.default_code, cfg.default_reason, now)
        return
    b = t.branches[best]
    if b.reply and code in (401, 407) and cfg.aggregate_challenges:
        challenges = _challenges(t)
        if challenges is not None:
            # more than one branch asked for credentials: one reply of ours with every
            # challenge, so the caller can answer them all (Kamailio: reply_aggregate_auth)
            reason = "Unauthorized" if code == 401 else "Proxy Authentication Required"
            reply_local(t, restore_request(t), code, reason, now, headers=challenges)
            return
    if b.reply and code == 503 and cfg.remap_503_500:
        # a proxy does not pass a 503 on (RFC 3261 §16.7): a 500 of ours instead, with
        # the 503's reason phrase, as Kamailio words it
        reply_local(t, restore_request(t), 500, "Service Unavailable", now)
        return
    if b.reply:
        t.relayed = best
        final_sent(t, code, now)
        send_upstream(t, b.reply, code)
        stats.inc(stats.RPL_RELAYED)
        return
    # no reply to relay: the branch timed out (or was ended by a CANCEL)
    msg = restore_request(t)
    if code == 487 or t.flags & T_CANCELED:
        reply_local(t, msg, 487, "Request Terminated", now)
    else:
        reply_local(t, msg, cfg.reply_408_code, cfg.reply_408_reason, now)
