"""Dialog conditions through the dialog module's callbacks, when it is loaded (as
Kamailio's nat_traversal does with DLGCB_CREATED and per-dialog callbacks):

  DLGCB_CREATED       an INVITE's new dialog: when nat_keepalive() marked the request
                      before the dialog was made, the caller is kept alive for it (for
                      the dialog module's default_timeout at most, as Kamailio reads
                      that parameter); the dialog gets the callbacks below
  DLGCB_DESTROY       the call's conditions end, whatever ended the dialog (BYE,
                      negative reply, the dialog's own timeout, dlg.end_dlg)

The callee that answers 2xx joins the call's condition when it is already kept alive
(registered through us) -- Kamailio does that in DLGCB_EARLY / DLGCB_CONFIRMED_NA from
the reply's source address, but kamapy's dialog callbacks get the reply as it was sent
on (no receive information), so that part stays on tm's reply callback, which knows
the branch that answered (conditions.py). A callee that only rang is not added (Kamailio
adds it on DLGCB_EARLY and removes it again on the 2xx of another branch).

Without the dialog module the call is followed through tm instead (conditions.py,
D-nat_traversal-2). The condition is keyed by the Call-ID, as on the tm path.
"""

from __future__ import annotations

import logging

from kamapy.sip.methods import METHOD_INVITE

from . import endpoints

log = logging.getLogger("kamapy.nat_traversal")

CB_NAME = "nat_traversal.dialog"
FL_DO_KEEPALIVE = 1 << 31  # conditions.FL_DO_KEEPALIVE (no import cycle)

_state: dict = {"bound": False, "timeout": None}


def setup() -> bool:
    """In mod_init (before the fork): bind when the dialog module is loaded."""
    from kamapy.loader import get, loaded

    _state["bound"] = False
    if not loaded("dialog"):
        return False
    from kamapy_modules.dialog import callbacks as dcb

    _state["timeout"] = int(get("dialog").param("default_timeout"))
    dcb.define(CB_NAME, _on_dialog)
    if dcb.register_global(dcb.DLGCB_CREATED, _on_created) < 0:
        log.error("cannot register callback for dialog creation")
        return False
    _state["bound"] = True
    return True


def bound() -> bool:
    return _state["bound"]


def timeout() -> int | None:
    return _state["timeout"] if _state["bound"] else None


def tracked(callid: str) -> bool:
    """Does the dialog module hold a live dialog for this Call-ID (so its DLGCB_DESTROY
    will end what is started for the call)?"""
    from kamapy_modules.dialog.state import DELETED
    from kamapy_modules.dialog.store import store

    s = store()
    lk = s.lock(s.entry_of(callid))
    try:
        return any(d.state < DELETED for d in s.by_callid(callid))
    finally:
        s.unlock(lk)


def _source(msg) -> str | None:
    rcv = getattr(msg, "rcv", None)
    if rcv is None or not rcv.src_ip:
        return None
    return endpoints.source_uri(rcv.src_ip, rcv.src_port)


def _sock_str(msg) -> str:
    si = msg.rcv.sock
    return str(si) if si is not None else f"udp:{msg.rcv.dst_ip}:{msg.rcv.dst_port}"


def _on_created(d, _cb_type, req, _rpl, _direction, _param):
    from kamapy_modules.dialog import callbacks as dcb

    if req is None or req.method_id != METHOD_INVITE:
        return
    caller = None
    if req.xflags & FL_DO_KEEPALIVE:
        caller = _source(req)
        if caller is not None:
            endpoints.dialog_start(caller, _sock_str(req), d.callid, timeout=timeout())
    if dcb.register(d, dcb.DLGCB_DESTROY, CB_NAME, caller) < 0:
        log.error("cannot register callbacks for the dialog")


def _on_dialog(d, cb_type, _req, _rpl, _direction, _caller):
    from kamapy_modules.dialog import callbacks as dcb

    if cb_type & dcb.DLGCB_DESTROY:
        callid = d.callid
        for uri in endpoints.endpoints_with_dialog(callid):
            endpoints.dialog_end(uri, callid)
