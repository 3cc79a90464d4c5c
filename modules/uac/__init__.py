"""uac: kamapy acting as a client (Kamailio 5.6's uac module), first part.

Built: uac_replace_from / uac_replace_to (display and/or URI), uac_restore_from /
uac_restore_to, restore_mode none / manual / auto (through Record-Route parameters
and rr's callbacks: restore_dlg = 0), restore_passwd, rr_from_store_param,
rr_to_store_param, restore_from_avp, restore_to_avp (see replace.py); uac_auth([mode])
and uac_auth_mode(mode) in failure_route with `credential` or auth_*_avp (auth.py).

uac_req_send() with $uac_req(...) and event_route[uac:reply] (send.py). Remote
registrations from the uacreg table (reg_* parameters, uac_reg_lookup / _lookup_uri /
_status / _request_to / _enable / _disable / _refresh, the uac.reg_* RPCs: reg.py).

restore_dlg = 1 keeps the URIs in dialog variables (_uac_fu ...) and rewrites in-dialog
requests from the dialog module's callbacks instead (dlg_manage() first).

event_callback names the KEMI function for uac:reply (kamapy/kemi/events.py).
"""

from __future__ import annotations

import logging

from kamapy.module import (
    ANY_ROUTE,
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    LOCAL_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
    Process,
    RpcCommand,
)

from . import auth as A
from . import reg as REG
from . import replace as R
from . import send as SEND
from .bound import tmb

log = logging.getLogger("kamapy.uac")


def _rt(msg):
    ctx = getattr(msg, "ctx", None)
    return getattr(ctx, "route_type", REQUEST_ROUTE) if ctx is not None else REQUEST_ROUTE


def replace_from(msg, a, b=None):
    display, uri = (None, a) if b is None else (a, b)
    return R.replace_uri(msg, display, uri or None, R.FL_FROM, _rt(msg))


def replace_to(msg, a, b=None):
    display, uri = (None, a) if b is None else (a, b)
    return R.replace_uri(msg, display, uri or None, R.FL_TO, _rt(msg))


def restore_from(msg):
    return 1 if R.restore_uri(msg, R.FL_FROM) == 0 else -1


def restore_to(msg):
    return 1 if R.restore_uri(msg, R.FL_TO) == 0 else -1


def _reg_on() -> bool:
    if not REG.S.enabled:
        log.error("remote registrations are not enabled (no reg_db_url)")
        return False
    return True


def reg_lookup(msg, src, dst):
    return REG.lookup(msg, src, dst, 0) if _reg_on() else -1


def reg_lookup_uri(msg, src, dst):
    return REG.lookup(msg, src, dst, 1) if _reg_on() else -1


def reg_status(msg, src):
    return REG.status(msg, src) if _reg_on() else -1


def reg_request_to(msg, src, mode):
    return REG.request_to(msg, src, mode or 0) if _reg_on() else -1


def reg_enable(msg, attr, val):
    return REG.set_flag(attr, val, True) if _reg_on() else -1


def reg_disable(msg, attr, val):
    return REG.set_flag(attr, val, False) if _reg_on() else -1


def reg_refresh(msg, uuid):
    if not _reg_on():
        return -1
    try:
        return REG.refresh(uuid)
    except Exception as e:
        log.warning("failed to refresh record: %s - %s", uuid, e)
        return -1


def uac_auth(msg, mode=0):
    return A.uac_auth(msg, mode or 0)


_MODES = {"none": R.NO_RESTORE, "manual": R.MANUAL_RESTORE, "auto": R.AUTO_RESTORE}
_NOT_BUILT = ()


def _avp_name(spec: str | None, pname: str):
    if not spec:
        return None
    from kamapy.pv.avp import parse_avp_name
    text = spec.strip()
    if not (text.startswith("$avp(") and text.endswith(")")):
        raise ValueError(f"malformed or non AVP {spec} AVP definition ({pname})")
    return parse_avp_name(text[5:-1])


def _check():
    errors = []
    mode = (exports.param("restore_mode") or "auto").lower()
    if mode not in _MODES:
        errors.append(("restore_mode", f"unsupported value {exports.param('restore_mode')!r} for restore_mode"))
    elif mode != "none" and (not exports.param("rr_from_store_param") or not exports.param("rr_to_store_param")):
        errors.append(("rr_from_store_param", "rr_store_param cannot be empty if FROM is restoreable"))
    for p in ("restore_from_avp", "restore_to_avp"):
        try:
            _avp_name(exports.param(p), p)
        except ValueError as e:
            errors.append((p, str(e)))
    if exports.param("restore_dlg"):
        from kamapy import loader
        if not loader.loaded("dialog"):
            errors.append(("restore_dlg", "failed to find dialog API - is dialog module loaded?"))
    for p in _NOT_BUILT:
        if exports.param(p):
            errors.append((p, f"{p}: KEMI callbacks are not built (no KEMI in kamapy)"))
    if exports.param("reg_db_url"):
        if not exports.param("reg_contact_addr"):
            errors.append(("reg_db_url", "contact address parameter not set (reg_contact_addr)"))
        try:
            from kamapy.db import parse_db_url
            parse_db_url(exports.param("reg_db_url"))
        except Exception as e:
            errors.append(("reg_db_url", str(e)))
        if exports.param("reg_timer_interval") <= 0:
            errors.append(("reg_timer_interval", "reg_timer_interval must be positive"))
    for text in _credentials():
        try:
            A.parse_credential(text)
        except ValueError as e:
            errors.append(("credential", str(e)))
    avps = [exports.param(p) for p in ("auth_realm_avp", "auth_username_avp", "auth_password_avp")]
    if any(avps) and not all(avps):
        errors.append(("auth_realm_avp", "partial definition of auth AVP: auth_realm_avp, "
                                         "auth_username_avp and auth_password_avp go together"))
    elif any(avps):
        from kamapy.pv import parse_pv
        for name, spec in zip(("auth_realm_avp", "auth_username_avp", "auth_password_avp"), avps, strict=True):
            try:
                parse_pv(spec)
            except Exception as e:
                errors.append((name, f"invalid {name} {spec!r}: {e}"))
    return errors


def _credentials() -> list[str]:
    v = exports.param("credential")
    if not v:
        return []
    return [v] if isinstance(v, str) else [x for x in v if x]


def mod_init():
    for _, message in _check():
        log.error("%s", message)
        return -1
    from kamapy import loader
    S = R.S
    S.mode = _MODES[(exports.param("restore_mode") or "auto").lower()]
    S.passwd = (exports.param("restore_passwd") or "").encode("latin-1")
    S.rr_from = exports.param("rr_from_store_param")
    S.rr_to = exports.param("rr_to_store_param")
    S.from_avp = _avp_name(exports.param("restore_from_avp"), "restore_from_avp")
    S.to_avp = _avp_name(exports.param("restore_to_avp"), "restore_to_avp")
    S.restore_dlg = bool(exports.param("restore_dlg"))
    A.S.creds = [A.parse_credential(t) for t in reversed(_credentials())]
    if exports.param("auth_realm_avp"):
        from kamapy.pv import parse_pv
        A.S.realm_pv = parse_pv(exports.param("auth_realm_avp"))
        A.S.user_pv = parse_pv(exports.param("auth_username_avp"))
        A.S.passwd_pv = parse_pv(exports.param("auth_password_avp"))
    if tmb.bind() is None:
        log.error("can't load TM API")
        return -1
    tmb.api.define(R.CB_NAME, R.restore_reply)
    tmb.api.define(SEND.CB_SEND, SEND.on_reply)
    tmb.api.define(SEND.CB_RESEND, SEND.on_resend_reply)
    tmb.api.define(REG.CB_REG, REG.on_reply)
    REG.S.default_socket = exports.param("default_socket") or ""
    if exports.param("reg_db_url"):
        S2 = REG.S
        S2.enabled = True
        S2.db_url = exports.param("reg_db_url")
        S2.table = exports.param("reg_db_table")
        S2.interval = exports.param("reg_timer_interval")
        S2.retry = exports.param("reg_retry_interval")
        S2.random_delay = exports.param("reg_random_delay")
        S2.contact_addr = exports.param("reg_contact_addr")
        S2.keep_callid = exports.param("reg_keep_callid")
        S2.use_domain = exports.param("reg_use_domain")
        REG.init_shared(exports.param("reg_hash_size"), exports.param("reg_active"))
        if not any(p.run is REG.run_process for p in exports.procs):
            exports.procs.append(Process("TIMER UAC REG", REG.run_process))
    if S.mode != R.NO_RESTORE:
        if not loader.loaded("rr"):
            log.error("can't load RR API")
            return -1
        from kamapy_modules.rr import api as rr_api
        if S.mode == R.AUTO_RESTORE and S.restore_dlg:
            from kamapy_modules.dialog import callbacks as dcb
            dcb.define(R.DLG_CB, R.dlg_replace)
            dcb.register_global(dcb.DLGCB_LOADED, R.on_dlg_loaded)
        if S.mode == R.AUTO_RESTORE:
            if not S.restore_dlg and not rr_api.settings.append_fromtag:
                log.error("'append_fromtag' RR param is not enabled! - required by AUTO restore mode")
                return -1
            if R.rr_checker not in [cb for cb, _ in _registered()]:
                rr_api.register_rrcb(R.rr_checker)
    return 0


def _registered():
    from kamapy_modules.rr import route_params
    return route_params._callbacks


_RT = REQUEST_ROUTE | BRANCH_ROUTE
_RQ_FAIL_BR = REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE

exports = ModuleExports(
    name="uac",
    params=[
        Param("rr_from_store_param", str, "vsf"),
        Param("rr_to_store_param", str, "vst"),
        Param("restore_mode", str, "auto"),
        Param("restore_dlg", int, 0),
        Param("restore_passwd", str, ""),
        Param("restore_from_avp", str, ""),
        Param("restore_to_avp", str, ""),
        Param("credential", str, "", multi=True),
        Param("auth_realm_avp", str, ""),
        Param("auth_username_avp", str, ""),
        Param("auth_password_avp", str, ""),
        Param("reg_db_url", str, ""),
        Param("reg_timer_interval", int, 90),
        Param("reg_retry_interval", int, 0),
        Param("reg_random_delay", int, 0),
        Param("reg_hash_size", int, 4),
        Param("reg_db_table", str, "uacreg"),
        Param("reg_contact_addr", str, ""),
        Param("reg_keep_callid", int, 0),
        Param("reg_active", int, 1),
        Param("reg_gc_interval", int, 150, unsupported="kamapy replaces reloaded records in place: there is no old table to collect"),
        Param("reg_use_domain", int, 0),
        Param("default_socket", str, ""),
        Param("event_callback", str, ""),
    ],
    functions=[
        Function("uac_replace_from", replace_from, (Arg("spve"), Arg("spve", optional=True)), _RT),
        Function("uac_restore_from", restore_from, (), REQUEST_ROUTE),
        Function("uac_replace_to", replace_to, (Arg("spve"), Arg("spve", optional=True)), _RT),
        Function("uac_restore_to", restore_to, (), REQUEST_ROUTE),
        Function("uac_auth", uac_auth, (Arg("igp", optional=True, default=0),), FAILURE_ROUTE),
        Function("uac_auth_mode", uac_auth, (Arg("igp"),), FAILURE_ROUTE),
        Function("uac_req_send", SEND.uac_req_send, (),
                 REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE | ONREPLY_ROUTE | LOCAL_ROUTE),
        Function("uac_reg_lookup", reg_lookup, (Arg("spve"), Arg("pvar")), ANY_ROUTE),
        Function("uac_reg_lookup_uri", reg_lookup_uri, (Arg("spve"), Arg("pvar")), ANY_ROUTE),
        Function("uac_reg_status", reg_status, (Arg("spve"),), ANY_ROUTE),
        Function("uac_reg_request_to", reg_request_to, (Arg("spve"), Arg("igp")), _RQ_FAIL_BR),
        Function("uac_reg_enable", reg_enable, (Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("uac_reg_disable", reg_disable, (Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("uac_reg_refresh", reg_refresh, (Arg("spve"),), ANY_ROUTE),
    ],
    rpc=[RpcCommand(name, fn, doc) for name, fn, doc in REG.RPCS],
    pvs=SEND.PVS,
    event_routes=[SEND.EVENT],
    mod_init=mod_init,
    check=_check,
)
