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
    with s.locked(h_entry, h_id) as d:
        if d is None or d.state >= st.DELETED:
            return False
        d.lifetime = seconds
        if d.state >= st.CONFIRMED_NA:
            s.set_timer(d, time.time() + seconds if seconds else 0)
        s.save(d)
        return True


_last = {"ka": 0.0, "clean": 0.0}
CLEAN_EVERY = 1.0  # Kamailio cleans every 90 s; here each timeout is kept to the second


def run_timer(now: float | None = None):
    from . import requests
    from .settings import cfg
    now = time.time() if now is None else now
    from .replication import replica
    if replica() is not None:
        replica().tick(now)  # heartbeat, resync, dead nodes' due dialogs taken over
    expire(now)
    if cfg.ka_interval > 0 and cfg.ka_timer > 0 and now - _last["ka"] >= cfg.ka_timer:
        _last["ka"] = now
        requests.run_ka(now)
    if now - _last["clean"] >= CLEAN_EVERY:
        _last["clean"] = now
        clean(now)
        from .profiles import profiles
        profiles().expire_remote(now)
    from . import db
    if db.dbcfg.mode == db.DELAYED:
        db.timer(now, store())


def clean(now: float):
    """Kamailio's dlg_clean_run: an unconfirmed/early dialog older than early_timeout
    is dropped (failed_dialogs); a 2xx never ACKed for noack_timeout ends in 10 s; one
    ended (state 5) for end_timeout is freed."""
    from . import handlers
    from .settings import cfg
    s = store()
    for d in s.all():
        gone = None
        with s.locked(d.h_entry, d.h_id) as d:
            if d is None:
                continue
            if d.state <= st.EARLY and d.init_ts and d.init_ts < now - cfg.early_timeout:
                handlers.log.info("dialog in early state is too old (%s)", d.callid)
                old = d.state
                d.state = st.DELETED
                handlers._end(d, old, None)
                gone = d
            elif d.state == st.CONFIRMED_NA and d.start_ts and d.start_ts < now - cfg.noack_timeout \
                    and d.lifetime != 10:
                d.lifetime = 10
                s.set_timer(d, now + 10)
                s.save(d)
            elif d.state == st.DELETED and d.end_ts and d.end_ts < now - cfg.end_timeout:
                handlers.log.info("dialog in delete state is too old (%s)", d.callid)
                s.remove(d)
        if gone is not None:
            from . import events
            events.run(events.FAILED, gone)
