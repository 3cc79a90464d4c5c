"""tm's timers, run by the timer process (Kamailio: timer.c retransmission_handler,
final_response_handler, wait_handler).

Each transaction has one entry in the `due` shm table whose expiry is the next
moment something may be due; the C side hands back the expired entries, and for
each one the transaction is read under its lock and every due timer is run:

  - request retransmissions (timers A/E: T1 doubling up to T2);
  - the final response timer of a branch (fr_timer, fr_inv_timer after a
    provisional for an INVITE): the branch ends with 408 -- CANCELed if it had a
    provisional reply -- and if it was the last one, failure_route runs here;
  - CANCEL retransmissions;
  - the negative final reply retransmission until the ACK (timer G/H);
  - max_inv_lifetime / max_noninv_lifetime;
  - the wait timer: the transaction is freed.
"""

from __future__ import annotations

import logging
import time

from . import dns_failover, outbox, stats
from .cancel import retransmit_cancel, send_branch, send_cancel
from .failure import branch_failure, conclude
from .store import DUE_FREE, store
from .transaction import B_FINAL, B_REPLIED, B_TIMEOUT, T_ON_WAIT, Transaction
from .uas import retransmit_final

log = logging.getLogger("kamapy.tm")

INTERVAL = 0.05  # how often the timer process looks (Kamailio's timer ticks are 62.5 ms)


def run_timers(now: float | None = None):
    """The timer job: work on every transaction that is due."""
    if now is None:
        now = time.time()
    st = store()
    for tid, flags in st.pop_due_entries(now):
        lock = st.lock(tid)
        if flags & DUE_FREE:
            # a finished transaction at the end of its wait: removed without reading it,
            # unless it registered another due moment meanwhile
            try:
                freed = st.free_if_still_due(tid)
            except Exception:
                log.exception("tm timer failed to free transaction %s", tid)
                freed = False
            if freed is not None:
                st.unlock(lock)
                if freed:
                    stats.inc(stats.DELETED)
                continue
        opened = outbox.hold()
        try:
            t = st.load(tid)
            if t is None:
                continue
            if t.wait_due and t.wait_due <= now:
                free(t)
                continue
            on_timer(t, lock, now)
            if t.wait_due and t.wait_due <= now:
                free(t)
                continue
            t.due_reg = 0.0  # its entry was taken out of the due table: register anew
            st.save(t)
        except Exception:
            log.exception("tm timer failed for transaction %s", tid)
        finally:
            st.unlock(lock)
            outbox.flush(opened)


def free(t: Transaction):
    if t.cbs:
        from .callbacks import TMCB_DESTROY, run
        run(t, TMCB_DESTROY)
    store().remove(t)
    if not t.flags & T_ON_WAIT:
        stats.inc(stats.WAITING)
    stats.inc(stats.DELETED)


def on_timer(t: Transaction, lock: int, now: float):
    if t.uas_retr_due and t.uas_retr_due <= now:
        retransmit_final(t, now)
    timed_out = False
    for i, b in enumerate(t.branches):
        if b.retr_due and b.retr_due <= now:
            if b.pending:
                send_branch(b, b.buf)
                b.retr_ivl = min(b.retr_ivl * 2, t.t2)
                b.retr_due = now + b.retr_ivl
            else:
                b.retr_due = 0.0
        if b.cancel_due and b.cancel_due <= now:
            retransmit_cancel(t, b, now)
        if b.fr_due and b.fr_due <= now:
            b.fr_due = 0.0
            if b.pending:
                silent = not b.flags & B_REPLIED
                branch_timeout(t, b, now)
                if silent:  # no reply at all: the next address of the target
                    dns_failover.on_timeout(t, i, now)
                branch_failure(t, i, lock)
                timed_out = True
    if not t.completed and t.end_of_life and t.end_of_life <= now:
        t.end_of_life = 0.0
        for b in t.branches:
            if b.pending:
                branch_timeout(t, b, now)
                timed_out = True
        if not t.branches:
            timed_out = True
    if timed_out:
        conclude(t, lock, now)


def branch_timeout(t: Transaction, b, now: float):
    """The final response timer of a branch fired: it ends as a 408; an INVITE branch
    that had a provisional reply is CANCELed (RFC 3261 §16.8)."""
    had_provisional = bool(b.flags & B_REPLIED)
    b.flags |= B_FINAL | B_TIMEOUT
    b.code = 408
    b.reason = "Request Timeout"
    b.retr_due = 0.0
    if t.is_invite and had_provisional and not b.cancel:
        send_cancel(t, b, now)
        b.fr_due = 0.0
