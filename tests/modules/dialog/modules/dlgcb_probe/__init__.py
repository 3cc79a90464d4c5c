"""dlgcb_probe: a module for the dialog tests (loaded with -L tests/modules/dialog/modules).

It uses the dialog module's callback API as another module would: DLGCB_CREATED for
every new dialog, and from there every per-dialog type, each event logged as
"DLGCB <name> <call-id> <dir> req=<method> rpl=<code>"."""

from __future__ import annotations

import logging

from kamapy.module import ModuleExports

log = logging.getLogger("kamapy.dlgcb_probe")


def _names():
    from kamapy_modules.dialog import callbacks as c
    return {v: k[6:] for k, v in vars(c).items() if k.startswith("DLGCB_")}


def _log(d, cb_type, req, rpl, direction, param):
    req_m = getattr(req, "method", None) if req is not None else None
    rpl_c = getattr(rpl, "status", None) if rpl is not None else None
    log.info("DLGCB %s %s %d req=%s rpl=%s param=%s", _names()[cb_type], d.callid, direction,
             req_m, rpl_c, param)


def _created(d, cb_type, req, _rpl, _dir, _param):
    from kamapy_modules.dialog import callbacks as c
    _log(d, cb_type, req, None, 0, None)
    every = 0
    for k, v in vars(c).items():
        if k.startswith("DLGCB_") and v not in (c.DLGCB_CREATED, c.DLGCB_LOADED):
            every |= v
    c.register(d, every, "dlgcb_probe.log", "p1")


def mod_init():
    from kamapy_modules.dialog import callbacks as c
    c.define("dlgcb_probe.log", _log)
    c.register_global(c.DLGCB_CREATED, _created)
    return 0


exports = ModuleExports(name="dlgcb_probe", mod_init=mod_init)
