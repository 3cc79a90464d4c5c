"""event_route[dialog:start], [dialog:end], [dialog:failed] (Kamailio:
dlg_run_event_route): run when a dialog is confirmed, ends, or fails, on the message
that moved it (the 2xx, the BYE, the negative reply) or, for the timer's end, on a
faked request; the dialog is the current one there, for $dlg(...) / $dlg_var."""

from __future__ import annotations

import logging

from kamapy.module import REQUEST_ROUTE
from kamapy.runtime import rt
from kamapy.sip.fmsg import next_faked_msg

from . import state as st

log = logging.getLogger("kamapy.dialog")

START, END, FAILED = "dialog:start", "dialog:end", "dialog:failed"
NAMES = [START, END, FAILED]
CUR_KEY = "dlg.cur"
VIEW_KEY = "dlg.view"   # the dialog as the event route must see it (not re-read from shm)

def for_transition(old: int, new: int) -> str | None:
    if old == new:
        return None
    if new == st.CONFIRMED_NA and old in (st.UNCONFIRMED, st.EARLY):
        return START
    if new == st.DELETED:
        return FAILED if old in (st.UNCONFIRMED, st.EARLY) else END
    return None


def routed(name: str | None) -> bool:
    """Has the script an event_route for name? (what is not run needs no message)"""
    if name is None:
        return False
    routes = rt.routes
    return routes is not None and getattr(routes, "event", {}).get(name) is not None


def run(name: str | None, d, msg=None, view: bool = False):
    if name is None:
        return
    routes = rt.routes
    route = getattr(routes, "event", {}).get(name) if routes is not None else None
    if route is None:
        return
    from kamapy.cfg.run_context import run_route

    if msg is None:
        msg = next_faked_msg()
    saved = msg.module_data.get(CUR_KEY)
    saved_ctx = getattr(msg, "ctx", None)  # the route may run inside another's (loose_route)
    msg.module_data[CUR_KEY] = (d.h_entry, d.h_id)
    saved_snap = msg.module_data.get("dlg.snapshot")
    msg.module_data["dlg.snapshot"] = d  # the dialog as it was, once it is gone
    if view:
        msg.module_data[VIEW_KEY] = d
    try:
        run_route(route, msg, REQUEST_ROUTE)
    except Exception:
        log.exception("event_route[%s] failed", name)
    finally:
        msg.module_data[CUR_KEY] = saved
        msg.ctx = saved_ctx
        msg.module_data.pop(VIEW_KEY, None)
        if saved_snap is None:
            msg.module_data.pop("dlg.snapshot", None)
        else:
            msg.module_data["dlg.snapshot"] = saved_snap
