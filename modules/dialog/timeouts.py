"""Dialog timeouts (Kamailio: dlg_timer.c): a confirmed dialog ends default_timeout
seconds (or its own, from dlg_set_timeout / $dlg_ctx(timeout)) after its 2xx, or after
its last in-dialog request unless timeout_noreset. The due moments sit in the shm
table with an expiry, handed out by one C call per tick in the timer process."""

from __future__ import annotations

import time

from . import state as st
from .handlers import expire
from .store import store

INTERVAL = 1.0


def set_timeout(h_entry: int, h_id: int, seconds: int) -> bool:
    s = store()
    lk = s.lock(h_entry)
    try:
        d = s.load(h_entry, h_id)
        if d is None or d.state >= st.DELETED:
            return False
        d.lifetime = seconds
        if d.state >= st.CONFIRMED_NA:
            s.set_timer(d, time.time() + seconds if seconds else 0)
        s.save(d)
        return True
    finally:
        s.unlock(lk)


def run_timer(now: float | None = None):
    expire(now)
