"""Dialog conditions bound to the dialog module, when it is loaded (Kamailio's
nat_traversal registers DLGCB_CREATED and per-dialog callbacks for this).

kamapy's dialog module has no callback API for other modules yet, so this follows the
dialog through what the module does expose, its shared dialog table:
  - a call's dialog condition starts (on the INVITE's 1xx/2xx, as before) only when a
    dialog exists for its Call-ID -- no dlg_manage()/dlg_flag, no dialog keepalive, as
    in Kamailio, where DLGCB_CREATED never fires then;
  - its expiry is the dialog module's default_timeout (Kamailio reads that parameter
    the same way), instead of the fixed 12 h used without the module;
  - the keepalive timer ends it once no dialog with that Call-ID is alive (state below
    "deleted"): the BYE, a negative reply, and also the dialog's own timeout, which tm
    alone never sees.
"""

from __future__ import annotations

import logging

log = logging.getLogger("kamapy.nat_traversal")

_state: dict = {"bound": False, "timeout": None}


def setup() -> bool:
    """In mod_init: bind when the dialog module is loaded."""
    from kamapy.loader import get, loaded

    _state["bound"] = False
    if not loaded("dialog"):
        return False
    _state["timeout"] = int(get("dialog").param("default_timeout"))
    _state["bound"] = True
    return True


def bound() -> bool:
    return _state["bound"]


def timeout() -> int | None:
    return _state["timeout"] if _state["bound"] else None


def live(callid: str) -> bool:
    """Is a dialog with this Call-ID alive in the dialog module's table?"""
    from kamapy_modules.dialog.state import DELETED
    from kamapy_modules.dialog.store import store

    s = store()
    if not s.in_shm:
        return True  # a per-process table says nothing about other processes' dialogs
    lk = s.lock(s.entry_of(callid))
    try:
        return any(d.state < DELETED for d in s.by_callid(callid))
    finally:
        s.unlock(lk)


def ended(snapshot) -> list[tuple[str, str]]:
    """(endpoint uri, Call-ID) of each dialog condition whose dialog is gone."""
    if not _state["bound"]:
        return []
    out = []
    known: dict[str, bool] = {}
    for uri, rec in snapshot:
        for callid in rec.get("d") or {}:
            if callid not in known:
                known[callid] = live(callid)
            if not known[callid]:
                out.append((uri, callid))
    return out
