"""Transaction callbacks (Kamailio: t_hooks.h, register_tmcb).

Other modules hear about a transaction's events through these. The types carry
Kamailio's bit values. Two kinds of registration:

  - global, for TMCB_REQUEST_IN only: `register_global(types, fn)` -- fn runs for every
    new transaction, in the process that creates it;
  - per transaction: `register(t_or_msg, types, name, param)`.

A transaction lives in shm and its events happen in whichever process gets the reply,
the ACK or the timer, so a per-transaction callback cannot be a Python function
pointer: it is stored in the transaction record as [types, name, param], where `name`
was bound to a function in every process by `define(name, fn)` (at mod_init, before
the fork) and `param` is anything msgpack packs. Registered on a message that has no
transaction yet (the script's dlg_manage() before t_relay), it waits in the message
and is attached when tm creates the transaction (Kamailio's pending tmcb list).

A callback is fn(t, cb_type, msg, code, param); msg is the request or the reply the
event is about (None where there is none, e.g. TMCB_DESTROY), code the reply code.

Other modules reach these through tm's declared API (api.py, kamapy.loader.bind_api).
sl's register_cb(SLCB_REPLY_READY) (modules/sl/api.py) is the stateless side of Kamailio's
sl callbacks, not a tm event.
"""

from __future__ import annotations

import logging

from .context import cur as _cur

log = logging.getLogger("kamapy.tm")

# Kamailio's values (src/modules/tm/t_hooks.h)
TMCB_REQUEST_IN = 1 << 0
TMCB_RESPONSE_IN = 1 << 1
TMCB_E2EACK_IN = 1 << 2
TMCB_REQUEST_PENDING = 1 << 3
TMCB_REQUEST_FWDED = 1 << 4
TMCB_RESPONSE_FWDED = 1 << 5
TMCB_ON_FAILURE_RO = 1 << 6
TMCB_ON_FAILURE = 1 << 7
TMCB_REQUEST_OUT = 1 << 8
TMCB_RESPONSE_OUT = 1 << 9
TMCB_LOCAL_COMPLETED = 1 << 10
TMCB_LOCAL_RESPONSE_OUT = 1 << 11
TMCB_ACK_NEG_IN = 1 << 12
TMCB_REQ_RETR_IN = 1 << 13
TMCB_LOCAL_RESPONSE_IN = 1 << 14
TMCB_LOCAL_REQUEST_IN = 1 << 15
TMCB_DLG = 1 << 16
TMCB_DESTROY = 1 << 17
TMCB_E2ECANCEL_IN = 1 << 18
TMCB_E2EACK_RETR_IN = 1 << 19
TMCB_RESPONSE_READY = 1 << 20
TMCB_DONT_ACK = 1 << 31
TMCB_MAX = (1 << 21) - 1

PENDING_KEY = "tm.tmcb_pending"   # msg.module_data: callbacks waiting for the transaction

_named: dict[str, object] = {}
_lazy: set[str] = set()  # names whose fn builds a lazily given message itself
_global: list[tuple[int, object]] = []
_global_types = 0


def define(name: str, fn, lazy: bool = False) -> None:
    """Bind a callback name to fn in this process (call before the fork). A `lazy` fn
    takes the message as run() got it, maybe a callable that builds it, and builds it
    only when it reads it (dialog: a 180's state change needs no parsed reply)."""
    _named[name] = fn
    if lazy:
        _lazy.add(name)
    else:
        _lazy.discard(name)


def register_global(types: int, fn) -> int:
    """A callback for every new transaction (Kamailio allows TMCB_REQUEST_IN only)."""
    global _global_types
    if types & ~TMCB_REQUEST_IN:
        log.error("register_tmcb: only TMCB_REQUEST_IN may be registered globally")
        return -1
    _global.append((types, fn))
    _global_types |= types
    return 1


def register(target, types: int, name: str, param=None) -> int:
    """A callback on one transaction: `target` is the Transaction, or a request
    message whose transaction tm creates later."""
    if name not in _named:
        log.error("register_tmcb: callback %r was never defined", name)
        return -1
    if not types or types & ~(TMCB_MAX | TMCB_DONT_ACK) or types & TMCB_REQUEST_IN:
        log.error("register_tmcb: bad callback types %#x", types)
        return -1
    entry = [types, name, param]
    if hasattr(target, "tid"):
        if target.cbs is None:
            target.cbs = []
        target.cbs.append(entry)
    else:
        target.module_data.setdefault(PENDING_KEY, []).append(entry)
    return 1


def register_req(msg, types: int, name: str, param=None) -> int:
    """Kamailio's register_tmcb(msg, NULL, ...): a callback on the transaction of request
    msg -- the one t_newtran already made (its record in shm takes it, and the copy
    this process works on), else the one tm makes later (it waits in msg)."""
    c = _cur
    t = c.txn if c.msg is msg else None
    if t is None:
        return register(msg, types, name, param)
    from .store import store
    ts = store()
    tl = ts.lock(t.tid)
    try:
        fresh = ts.load(t.tid)
        if fresh is None:
            return -1
        rc = register(fresh, types, name, param)
        ts.save(fresh)
        t.cbs = fresh.cbs
        return rc
    finally:
        ts.unlock(tl)


def has(t, types: int) -> bool:
    cbs = t.cbs
    if not cbs:
        return False
    for e in cbs:
        if e[0] & types:
            return True
    return False


def created(t, msg) -> None:
    """tm made transaction t for request msg: attach the callbacks waiting in msg and
    run TMCB_REQUEST_IN (global ones)."""
    pending = msg.module_data.pop(PENDING_KEY, None) if msg is not None else None
    if pending:
        t.cbs = (t.cbs or []) + pending
    if _global_types & TMCB_REQUEST_IN:
        for types, fn in _global:
            if types & TMCB_REQUEST_IN:
                try:
                    fn(t, TMCB_REQUEST_IN, msg, 0, None)
                except Exception:
                    log.exception("tm callback %r failed", fn)
                if msg is not None:
                    # what fn registered on msg goes to t now, in order (Kamailio's T
                    # is set while these run)
                    late = msg.module_data.pop(PENDING_KEY, None)
                    if late:
                        t.cbs = (t.cbs or []) + late


def run(t, cb_type: int, msg=None, code: int = 0) -> None:
    """Run t's callbacks registered for cb_type. msg may be a callable that builds
    the message, so an event nobody listens to costs no parsing."""
    cbs = t.cbs
    if not cbs:
        return
    for types, name, param in list(cbs):
        if not types & cb_type:
            continue
        fn = _named.get(name)
        if fn is None:
            continue
        if name not in _lazy and callable(msg) and not hasattr(msg, "module_data"):
            msg = msg()
        try:
            fn(t, cb_type, msg, code, param)
        except Exception:
            log.exception("tm callback %s failed", name)


def clear() -> None:
    """Forget every callback (tests)."""
    global _global_types
    _named.clear()
    _lazy.clear()
    _global.clear()
    _global_types = 0
