"""Requests: finding their transaction, creating it, relaying it (Kamailio: t_lookup.c
t_newtran / t_lookup_request, tm.c t_relay_to, t_fwd.c e2e_cancel).

- a retransmission of a request whose transaction exists is answered with the last
  reply sent and stops the script (return 0);
- an ACK to a negative final reply (same branch as the INVITE) is absorbed; any
  other ACK (to a 2xx: a new transaction per RFC 3261) is relayed statelessly;
- a CANCEL whose INVITE transaction exists gets a 200 from here and CANCELs every
  pending branch of the INVITE; an unmatched one is relayed like any request;
- anything else gets a transaction (t_relay sends an INVITE's 100 Trying before
  it forwards; t_newtran sends none) and branches; when no branch could be sent,
  tm's error reply goes at the end of the script (delayed_reply), unless the
  script answered, relayed again or released the transaction.
"""

from __future__ import annotations

import logging
import time

from kamapy import ser_error
from kamapy.module import BRANCH_FAILURE_ROUTE, FAILURE_ROUTE
from kamapy.net.send import reply_destination
from kamapy.pv.dset import RURI0_KEY, ruri_is_new
from kamapy.runtime import rt
from kamapy.sip.methods import METHOD_ACK, METHOD_CANCEL, METHOD_INVITE
from kamapy.sip.reply import build_reply

from . import outbox, stats
from .callbacks import created as _created
from .cancel import cancel_transaction
from .config import cfg
from .context import OWNED, Current, cur, for_msg
from .matching import invite_tid, request_tid, server_key, tid_of
from .store import store
from .transaction import (
    B_SEND_FAILED,
    T_CANCELED,
    T_DISABLE_INTERNAL_REPLY,
    T_IS_INVITE,
    T_NO_AUTO_100,
    T_RPL_SND_SHIFT,
    Transaction,
)
from .uac import RelayError, add_branches, saved_request, send_branches
from .uas import ack_received, reply_local, request_msg, resend_last

log = logging.getLogger("kamapy.tm")

TID_KEY = "tm_tid"

# what t_relay returns when no branch went out (send failed, onsend_route dropped it):
# Kamailio's t_forward_nonack gives -1 there, whatever ser_error (E_SEND) says
NOT_SENT = -1


def cached_tid(msg) -> tuple[str, str]:
    v = msg.module_data.get(TID_KEY)
    if v is None:
        v = msg.module_data[TID_KEY] = request_tid(msg)
    return v


def lookup(tid: str, key: str) -> Transaction | None:
    t = store().load(tid)
    if t is not None and t.skey != key:
        return None  # a hash collision, not this request's transaction
    return t


def lookup_request(msg) -> Transaction | None:
    """The transaction a request (not ACK) belongs to, or None."""
    return lookup(*cached_tid(msg))


def lookup_key(msg, method: str) -> Transaction | None:
    """The transaction of `method` msg's top Via and CSeq name -- for a reply upstream,
    the request it answers (Kamailio's t_lookup_ident by the reply's ident)."""
    key = server_key(msg, method)
    return lookup(tid_of(key), key)


def new_transaction(msg, tid: str, key: str, now: float, c: Current | None = None) -> Transaction:
    flags = T_IS_INVITE if msg.method_id == METHOD_INVITE else 0
    t = Transaction(tid, key, msg.method, flags, now)
    t.req = msg.data
    r = msg.rcv
    t.rcv = [r.src_ip, r.src_port, r.dst_ip, r.dst_port, r.proto]
    if r.proto != 1:  # the connection replies leave on (Kamailio's uas.response.dst.id)
        t.rcv.append(getattr(r, "con_id", 0))
    t.rpl_dst = list(reply_destination(msg))
    t.flags |= (msg.rpl_send_flags & 3) << T_RPL_SND_SHIFT
    t.fr, t.fr_inv, t.t1, t.t2 = cfg.fr, cfg.fr_inv, cfg.t1, cfg.t2
    lifetime = cfg.max_inv_lifetime if flags else cfg.max_noninv_lifetime
    p = c.pending if c is not None else None
    if p is not None:
        t.on_failure, t.on_reply, t.on_branch = p.on_failure, p.on_reply, p.on_branch
        t.on_branch_failure = p.on_branch_failure
        t.fr = p.fr or t.fr
        t.fr_inv = p.fr_inv or t.fr_inv
        t.t1 = p.t1 or t.t1
        t.t2 = p.t2 or t.t2
        lifetime = (p.inv_lifetime if flags else p.noninv_lifetime) or lifetime
        t.flags = (t.flags | p.flags_set) & ~p.flags_reset
    t.end_of_life = now + lifetime if lifetime else 0.0
    _created(t, msg)  # TMCB_REQUEST_IN, and callbacks registered on msg before
    return t


def save_script_state(t: Transaction, msg):
    t.new_uri = msg.new_uri
    t.dst_uri = msg.dst_uri
    t.mflags = msg.flags
    t.bflags = msg.ruri_bflags
    t.avps = msg.avps
    t.xavps = msg.xavps


def _trying(t: Transaction, msg):
    if t.flags & T_IS_INVITE and cfg.auto_inv_100 and not t.flags & T_NO_AUTO_100:
        t.uas_buf = build_reply(msg, 100, cfg.auto_inv_100_reason, server_header=rt.server_header)
        t.uas_code = 100
        return True
    return False


def _sent_trying(t: Transaction):
    resend_last(t)
    stats.inc(stats.RPL_GENERATED)
    stats.inc(stats.RPL_SENT)


# ---------------------------------------------------------------------- ACK
def absorb_ack(msg) -> int | None:
    """0 when msg is the ACK to a negative reply of one of our INVITE transactions
    (absorbed), 1 for a matching e2e ACK, None when nothing matched."""
    tid, key = invite_tid(msg)
    st = store()
    if not st.exists(tid):
        return None
    lock = st.lock(tid)
    try:
        t = st.load(tid)
        if t is None or t.skey != key:
            return None
        if t.uas_code >= 300:
            ack_received(t, time.time())
            st.save(t)
            return 0
        if t.cbs:
            from .callbacks import TMCB_E2EACK_IN, run
            run(t, TMCB_E2EACK_IN, msg, 0)
        return 1
    finally:
        st.unlock(lock)


# ---------------------------------------------------------------------- lookups
def check_trans(msg) -> int:
    """t_check_trans(): see the module docs for the per-method meaning."""
    c = for_msg(msg)
    mid = msg.method_id
    if mid == METHOD_ACK:
        rc = absorb_ack(msg)
        return -1 if rc is None else rc
    if mid == METHOD_CANCEL:
        tid, key = invite_tid(msg)
        return 1 if lookup(tid, key) is not None else -1
    t = lookup_request(msg)
    if t is None:
        c.searched = True
        return -1
    resend_last(t)
    return 0


def newtran(msg) -> int:
    """t_newtran(): 1 created, 0 a retransmission (answered), negative on error."""
    c = for_msg(msg)
    if c.txn is not None:
        log.error("t_newtran: transaction already in process")
        return ser_error.E_SCRIPT
    if msg.method_id == METHOD_ACK:
        rc = absorb_ack(msg)
        return 1 if rc is None else (0 if rc == 0 else 1)
    tid, key = cached_tid(msg)
    st = store()
    if not c.searched:
        old = lookup(tid, key)
        if old is not None:
            resend_last(old)
            return 0
    now = time.time()
    t = new_transaction(msg, tid, key, now, c)
    save_script_state(t, msg)
    if not st.add(t):
        old = lookup(tid, key)
        if old is not None:
            resend_last(old)
        return 0
    stats.inc(stats.TRANSACTIONS)
    c.txn = t
    return 1


# ---------------------------------------------------------------------- relay
def relay(msg, proxy=None) -> int:
    """t_relay() and friends: 1 relayed, 0 absorbed (stop), negative on error."""
    c = for_msg(msg)
    now = time.time()
    if c.lock >= 0 and c.txn is not None:
        if not c.route & (FAILURE_ROUTE | BRANCH_FAILURE_ROUTE):
            log.error("t_relay: not allowed here")
            return -1
        return _relay_failure(c, msg, proxy, now)
    mid = msg.method_id
    if mid == METHOD_ACK:
        rc = absorb_ack(msg)
        if rc == 0:
            return 0
        return _forward_stateless(msg, proxy)
    if mid == METHOD_CANCEL and c.txn is None:
        rc = _relay_cancel(msg, c, now)
        if rc is not None:
            return rc
    if c.txn is None:
        return _relay_new(msg, c, proxy, now)
    return _relay_existing(msg, c, proxy, now)


def relay_cancel(msg) -> int | None:
    """t_relay_cancel: the e2e CANCEL only; None when its INVITE is unknown."""
    c = for_msg(msg)
    return _relay_cancel(msg, c, time.time())


def _forward_stateless(msg, proxy) -> int:
    from kamapy.net.forward import forward
    dest = (proxy[1], proxy[2]) if proxy is not None else None
    return forward(msg, dest)


def _kill(t: Transaction, msg, err: int, now: float):
    """The stateful error reply tm sends when relaying failed (Kamailio: kill_transaction)."""
    if t.flags & T_DISABLE_INTERNAL_REPLY or t.uas_code >= 200:
        return
    code, reason = ser_error.err2reason(err, "TM")
    reply_local(t, msg, code, reason, now)


def _fail(t: Transaction, msg, c: Current, err: int, now: float):
    """t_relay failed in request_route: with delayed_reply (Kamailio's default) tm's
    error reply waits for the end of the script, which may still reply, relay again or
    release the transaction (post_script); else it goes now."""
    if cfg.delayed_reply:
        c.delayed_error = err
        msg.after_script(post_script)
    else:
        _kill(t, msg, err, now)


def post_script(msg):
    """After the script (armed by _fail through msg.after_script): the delayed error
    reply of a failed t_relay (Kamailio: t_unref, REQ_ERR_DELAYED)."""
    c = cur
    if c.msg is not msg or not c.delayed_error or c.txn is None:
        return
    err, c.delayed_error = c.delayed_error, 0
    st = store()
    lock = st.lock(c.txn.tid)
    opened = outbox.hold()
    try:
        t = st.load(c.txn.tid)
        if t is None:
            return
        _kill(t, msg, err, time.time())
        st.save(t)
        c.txn = t
    finally:
        st.unlock(lock)
        outbox.flush(opened)


def _relay_new(msg, c: Current, proxy, now: float) -> int:
    tid, key = cached_tid(msg)
    st = store()
    if not c.searched:
        old = lookup(tid, key)
        if old is not None:
            resend_last(old)
            return 0
    t = new_transaction(msg, tid, key, now, c)
    trying = _trying(t, msg)
    c.txn = t
    try:
        indexes = add_branches(t, msg, now, proxy, ruri_is_new(msg), lock=OWNED)
    except RelayError as e:
        ser_error.set_error(e.code)
        save_script_state(t, msg)
        opened = outbox.hold()
        if trying:  # sent before the forwarding is tried, as Kamailio does
            _sent_trying(t)
        _fail(t, msg, c, e.code, now)
        if st.add(t):
            stats.inc(stats.TRANSACTIONS)
            outbox.flush(opened)
        else:
            outbox.drop(opened)
        return e.code
    save_script_state(t, msg)
    if t.on_failure and msg.lumps:
        t.req_lumped = saved_request(msg)
    if not st.add(t):
        c.txn = None
        old = lookup(tid, key)
        if old is not None:
            resend_last(old)
        return 0
    stats.inc(stats.TRANSACTIONS)
    if trying:
        _sent_trying(t)
    sent = send_branches(t, indexes, msg)
    if sent < len(indexes):
        return _send_failed(t, msg, indexes, sent, now)
    return 1


def _send_failed(t: Transaction, msg, indexes, sent: int, now: float) -> int:
    st = store()
    lock = st.lock(t.tid)
    opened = outbox.hold()
    try:
        fresh = st.load(t.tid)
        if fresh is None:
            return ser_error.E_SEND
        for i in indexes:
            if t.branches[i].flags & B_SEND_FAILED:
                b = fresh.branches[i]
                b.flags |= B_SEND_FAILED
                b.retr_due = b.fr_due = 0.0
        if not sent:
            ser_error.set_error(ser_error.E_SEND)
            _fail(fresh, msg, for_msg(msg), ser_error.E_SEND, now)
        st.save(fresh)
        for_msg(msg).txn = fresh
    finally:
        st.unlock(lock)
        outbox.flush(opened)
    return 1 if sent else NOT_SENT


def _relay_existing(msg, c: Current, proxy, now: float) -> int:
    """t_relay after t_newtran in the same script run."""
    st = store()
    lock = st.lock(c.txn.tid)
    opened = outbox.hold()
    try:
        t = st.load(c.txn.tid)
        if t is None:
            return ser_error.E_UNSPEC
        if t.uas_code < 100 and _trying(t, msg):
            _sent_trying(t)  # t_newtran sent none: t_relay does, before forwarding
        if t.flags & T_CANCELED:
            ser_error.set_error(ser_error.E_CANCELED)
            return ser_error.E_CANCELED
        p = c.pending
        if p is not None:
            t.on_failure = p.on_failure or t.on_failure
            t.on_reply = p.on_reply or t.on_reply
            t.on_branch = p.on_branch or t.on_branch
        c.txn = t
        first = not t.branches
        try:
            indexes = add_branches(t, msg, now, proxy, ruri_is_new(msg), lock=lock)
        except RelayError as e:
            ser_error.set_error(e.code)
            _fail(t, msg, c, e.code, now)
            st.save(t)
            return e.code
        save_script_state(t, msg)
        if first and t.on_failure and msg.lumps:
            t.req_lumped = saved_request(msg)
        sent = send_branches(t, indexes, msg)
        if sent:
            c.delayed_error = 0  # relayed after all: no error reply at the end
        else:
            ser_error.set_error(ser_error.E_SEND)
            _fail(t, msg, c, ser_error.E_SEND, now)
        st.save(t)
        return 1 if sent else NOT_SENT
    finally:
        st.unlock(lock)
        outbox.flush(opened)


def _relay_failure(c: Current, msg, proxy, now: float) -> int:
    """t_relay in failure_route: a new round of branches on the same transaction."""
    t = c.txn
    if t.flags & T_CANCELED:
        ser_error.set_error(ser_error.E_CANCELED)
        return ser_error.E_CANCELED
    ruri0 = msg.module_data.get(RURI0_KEY)
    cur_uri = msg.current_uri
    include_ruri = cur_uri != ruri0 and all(b.uri != cur_uri for b in msg.branches)
    first = len(t.branches)
    if c.pending is not None:
        t.on_branch = c.pending.on_branch or t.on_branch
    try:
        indexes = add_branches(t, msg, now, proxy, include_ruri, lock=c.lock)
    except RelayError as e:
        ser_error.set_error(e.code)
        return e.code
    if c.route & FAILURE_ROUTE:
        # failure_reply_mode 3: the new round picks among its own branches; a branch
        # added in branch-failure joins the running round (Kamailio drops replies
        # after failure_route only)
        t.first_branch = first
    msg.branches = []
    sent = send_branches(t, indexes, msg)
    if not sent:
        ser_error.set_error(ser_error.E_SEND)
        return NOT_SENT
    return 1


def _relay_cancel(msg, c: Current, now: float) -> int | None:
    """An e2e CANCEL; None when its INVITE transaction is unknown."""
    inv_tid, inv_key = invite_tid(msg)
    st = store()
    if not st.exists(inv_tid):
        return None
    tid, key = cached_tid(msg)
    old = lookup(tid, key)
    if old is not None:  # a retransmitted CANCEL
        resend_last(old)
        return 0
    lock = st.lock(inv_tid)
    opened = outbox.hold()
    try:
        inv = st.load(inv_tid)
        if inv is None or inv.skey != inv_key:
            return None
        if cancel_transaction(inv, now, msg):
            answer = "canceling"
        else:
            # nothing (left) to cancel downstream: the INVITE ends here, if it has not
            # ended yet (Kamailio: e2e_cancel)
            answer = "ok -- no more pending branches"
            if not inv.completed:
                reply_local(inv, request_msg(inv), 487, "Request canceled", now)
        st.save(inv)
    finally:
        st.unlock(lock)
        outbox.flush(opened)
    # the CANCEL's own transaction answers its retransmissions with the same 200
    t = new_transaction(msg, tid, key, now, c)
    opened = outbox.hold()
    reply_local(t, msg, 200, answer, now)
    if st.add(t):
        stats.inc(stats.TRANSACTIONS)
        outbox.flush(opened)
    else:
        outbox.drop(opened)
    c.txn = t
    return 1
