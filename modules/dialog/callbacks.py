"""Dialog callbacks for other modules (Kamailio: dlg_cb.h, register_dlgcb).

The types carry Kamailio's bit values. As with tm's callbacks (tm/callbacks.py), a
dialog lives in shm and its events happen in whichever process sees the message or
runs the timer, so a per-dialog callback is kept in the dialog record as
[types, name, param], `name` bound to a function in every process by define() at
mod_init (before the fork), `param` anything msgpack packs.

  define(name, fn)                       bind a name (mod_init)
  register_global(DLGCB_CREATED, fn)     fn for every new dialog (also DLGCB_LOADED:
                                         every dialog read back from the database)
  register(d, types, name, param)        on one dialog (e.g. from the CREATED callback)

fn(d, cb_type, req, rpl, direction, param): d is the Dialog as it is at that moment
(a copy: change the dialog through the module's functions, not through it), req/rpl
the request and reply the event is about (None when there is none), direction
0 none / 1 downstream / 2 upstream. Callbacks run with no dialog lock held, except
DLGCB_DESTROY, which runs as the record goes.
"""

from __future__ import annotations

import logging

log = logging.getLogger("kamapy.dialog")

DLGCB_LOADED = 1 << 0
DLGCB_CREATED = 1 << 1
DLGCB_FAILED = 1 << 2
DLGCB_CONFIRMED_NA = 1 << 3
DLGCB_CONFIRMED = 1 << 4
DLGCB_REQ_WITHIN = 1 << 5
DLGCB_TERMINATED = 1 << 6
DLGCB_EXPIRED = 1 << 7
DLGCB_EARLY = 1 << 8
DLGCB_RESPONSE_FWDED = 1 << 9
DLGCB_RESPONSE_WITHIN = 1 << 10
DLGCB_MI_CONTEXT = 1 << 11
DLGCB_RPC_CONTEXT = 1 << 12
DLGCB_DESTROY = 1 << 13
DLGCB_SPIRALED = 1 << 14
DLGCB_TERMINATED_CONFIRMED = 1 << 15
_GLOBAL = DLGCB_CREATED | DLGCB_LOADED

_named: dict[str, object] = {}
_global: list[tuple[int, object]] = []


def define(name: str, fn) -> None:
    _named[name] = fn


def register_global(types: int, fn) -> int:
    if not types or types & ~_GLOBAL:
        log.error("register_dlgcb: only DLGCB_CREATED / DLGCB_LOADED are global")
        return -1
    _global.append((types, fn))
    return 1


def register(d, types: int, name: str, param=None) -> int:
    """A callback on dialog d (a Dialog, or (h_entry, h_id)); stored in its record."""
    from .store import store
    if name not in _named:
        log.error("register_dlgcb: callback %r was never defined", name)
        return -1
    if not types or types & _GLOBAL:
        log.error("register_dlgcb: bad callback types %#x", types)
        return -1
    h_entry, h_id = (d.h_entry, d.h_id) if hasattr(d, "h_entry") else d
    s = store()
    with s.locked(h_entry, h_id) as fresh:
        if fresh is None:
            return -1
        fresh.cbs = (fresh.cbs or []) + [[types, name, param]]
        s.save(fresh)
    if hasattr(d, "cbs"):
        d.cbs = fresh.cbs
    return 1


def run_global(cb_type: int, d, req=None) -> None:
    for types, fn in list(_global):
        if types & cb_type:
            try:
                fn(d, cb_type, req, None, 0, None)
            except Exception:
                log.exception("dialog callback %r failed", fn)


def run(d, cb_type: int, req=None, rpl=None, direction: int = 0) -> None:
    if d is None or not d.cbs:
        return
    for types, name, param in list(d.cbs):
        if not types & cb_type:
            continue
        fn = _named.get(name)
        if fn is None:
            continue
        try:
            fn(d, cb_type, req, rpl, direction, param)
        except Exception:
            log.exception("dialog callback %s failed", name)


def clear() -> None:
    """Forget every callback (tests)."""
    _named.clear()
    _global.clear()
