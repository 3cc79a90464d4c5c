"""dialog's config functions (Kamailio: dialog.c w_*)."""

from __future__ import annotations

import logging

from kamapy.module import Arg, Function

from . import handlers
from .handlers import current
from .profiles import profiles
from .store import store
from .timeouts import set_timeout

log = logging.getLogger("kamapy.dialog")


def _profile_name(name: str) -> str:
    from . import profile_defined
    if not profile_defined(name):
        raise ValueError(f"dialog profile {name!r} is not defined (profiles_with_value / profiles_no_value)")
    return name


def _change(msg, fn):
    d = current(msg)
    if d is None:
        log.error("no dialog for this request (call dlg_manage() first)")
        return None
    return store().change(d.h_entry, d.h_id, fn)


def _refused() -> bool:
    """redis_fail_mode 1 with Redis unreachable: no new dialog, no profile count."""
    from .replication import refusing
    if refusing():
        log.error("dialog: the cluster's dialogs (redis) are unreachable: refused")
        return True
    return False


def w_dlg_manage(msg):
    from .match import msg_ids
    ids = msg_ids(msg)
    if ids is not None and not ids[2] and msg.method == "INVITE" and _refused():
        return -1  # a new call (an in-dialog request still goes through)
    return handlers.manage(msg)


def w_is_known_dlg(msg):
    if current(msg) is not None:
        return 1
    from .match import by_ids, msg_ids
    ids = msg_ids(msg)
    return 1 if ids is not None and by_ids(*ids, deleted=True) is not None else -1


def w_set_dlg_profile(msg, name, value=None):
    p = profiles()
    value = value or ""
    if p.has_value.get(name) and not value:
        log.error("set_dlg_profile: profile %s needs a value", name)
        return -1

    def link(d):
        # no check for a link already there: Kamailio adds one each call, so a spiral's
        # second pass through set_dlg_profile counts the call twice until it ends
        d.profiles.append([name, value])
        p.link(name, value)
        return 1
    rc = _change(msg, link)
    return -1 if rc is None else rc


def w_unset_dlg_profile(msg, name, value=None):
    p = profiles()

    def unlink(d):
        for link in d.profiles:
            if link[0] == name and (not p.has_value[name] or value is None or link[1] == value):
                d.profiles.remove(link)
                p.unlink(name, link[1])
                return 1
        return -1
    rc = _change(msg, unlink)
    return -1 if rc is None else rc


def w_is_in_profile(msg, name, value=None):
    d = current(msg)
    if d is None:
        return -1
    for n, v in d.profiles:
        if n == name and (value is None or not profiles().has_value[name] or v == value):
            return 1
    return -1


def w_get_profile_size(msg, name, second, third=None):
    if third is None:
        value, pv = None, second
    else:
        value, pv = (second(msg) if callable(second) else second), third
    if _refused():
        return -1
    n = profiles().size(name, value)
    pv.set(msg, n)
    return 1


def _fx_format(text):
    from kamapy.pv import compile_format
    return compile_format(text)


def _fx_pvar(text):
    from kamapy.pv import parse_pv
    pv = parse_pv(text)
    if not getattr(pv, "writable", False):
        raise ValueError(f"{text} is not a writable pseudo-variable")
    return pv


def _fx_second(text):
    # get_profile_size(profile, value, pv) or (profile, pv): which one is known only
    # once the argument count is; both forms are kept and the handler picks
    return text


def w_get_profile_size_any(msg, name, second, third=None):
    if third is None:
        return w_get_profile_size(msg, name, _pv_cache(second))
    return w_get_profile_size(msg, name, _fmt_cache(second), _pv_cache(third))


_pvs: dict = {}
_fmts: dict = {}


def _pv_cache(text):
    pv = _pvs.get(text)
    if pv is None:
        pv = _pvs[text] = _fx_pvar(text)
    return pv


def _fmt_cache(text):
    f = _fmts.get(text)
    if f is None:
        f = _fmts[text] = _fx_format(text)
    return f


def w_dlg_isflagset(msg, flag):
    d = current(msg)
    if d is None:
        return -1
    return 1 if d.sflags & (1 << flag) else -1


def w_dlg_setflag(msg, flag):
    def f(d):
        d.sflags |= 1 << flag
        return 1
    rc = _change(msg, f)
    return -1 if rc is None else rc


def w_dlg_resetflag(msg, flag):
    def f(d):
        d.sflags &= ~(1 << flag)
        return 1
    rc = _change(msg, f)
    return -1 if rc is None else rc


def w_dlg_set_timeout(msg, timeout, h_entry=None, h_id=None):
    if h_entry is not None and h_id is not None:
        return 1 if set_timeout(h_entry, h_id, timeout) else -1
    d = current(msg)
    if d is None:
        log.error("dlg_set_timeout: no dialog for this request")
        return -1
    return 1 if set_timeout(d.h_entry, d.h_id, timeout) else -1


_SIDES = ("caller", "callee", "all")


def _fx_side(v):
    if v not in _SIDES:
        raise ValueError("the side is 'caller', 'callee' or 'all'")
    return v


def _fx_side2(v):
    if v not in ("caller", "callee"):
        raise ValueError("the side is 'caller' or 'callee'")
    return v


def w_dlg_bye(msg, side):
    """dlg_bye(side): BYE to the caller, the callee or both (dlg_req_within.c)."""
    from . import requests
    d = current(msg)
    if d is None:
        log.error("dlg_bye: no dialog for this request")
        return -1
    return requests.bye(d.h_entry, d.h_id, side)


def w_dlg_refer(msg, side, address):
    """dlg_refer(side, address): a REFER with Refer-To: address, then a BYE, sent as
    Kamailio sends them (requests.refer)."""
    from . import requests
    d = current(msg)
    if d is None:
        log.error("dlg_refer: no dialog for this request")
        return -1
    if not address:
        log.error("invalid To parameter")
        return -1
    leg = requests.CALLER if side == "caller" else requests.CALLEE
    return 1 if requests.refer(d, leg, address) else -1


def w_dlg_bridge(msg, frm, to, op):
    """dlg_bridge(from, to, op): call `from` and, once it answers, refer it to `to`."""
    from . import requests
    if not frm or not to:
        log.error("dlg_bridge: empty from/to")
        return -1
    return 1 if requests.bridge(frm, to, op) else -1


def w_dlg_get(msg, callid, ftag, ttag):
    """dlg_get(callid, ftag, ttag): that dialog becomes the current one (for dlg_bye,
    $dlg(...), ...); an empty To tag matches a dialog still being set up."""
    if not callid:
        log.error("invalid Call-ID parameter")
        return -1
    if not ftag:
        log.error("invalid From tag parameter")
        return -1
    from .match import by_ids
    found = by_ids(callid, ftag, ttag or "")
    if found is None:
        return -1
    d, direction = found
    msg.module_data[handlers.CUR_KEY] = (d.h_entry, d.h_id)
    from .pvs import ctx
    ctx(msg)["dir"] = direction
    return 1


_PROPS = {"ka-src": handlers.IFLAG_KA_SRC, "ka-dst": handlers.IFLAG_KA_DST,
          "timeout-noreset": handlers.IFLAG_TIMER_NORESET}


def _set_property(msg, prop, on: bool):
    flag = _PROPS.get(prop)
    if flag is None:
        log.error("unknown property value [%s]", prop)
        return -1
    from .pvs import ctx
    c = ctx(msg)
    c["iflags"] = (c.get("iflags", 0) | flag) if on else (c.get("iflags", 0) & ~flag)
    if msg.module_data.get(handlers.CUR_KEY) is None:
        return 1  # kept for the dialog dlg_manage() makes next

    def f(d):
        d.iflags = (d.iflags | flag) if on else (d.iflags & ~flag)
        return 1
    _change(msg, f)
    return 1


def w_dlg_set_property(msg, prop):
    if not prop:
        log.error("empty property value")
        return -1
    return _set_property(msg, prop, True)


def w_dlg_reset_property(msg, prop):
    if not prop:
        log.error("empty property value")
        return -1
    return _set_property(msg, prop, False)


def w_dlg_set_ruri(msg):
    """dlg_set_ruri(): the R-URI becomes the contact of the side the request goes to."""
    from .match import DIR_DOWNSTREAM, by_ids, msg_ids
    ids = msg_ids(msg)
    found = by_ids(*ids) if ids is not None else None
    if found is None:
        return -1
    d, direction = found
    leg = 1 if direction == DIR_DOWNSTREAM else 0
    if not d.contact[leg]:
        log.info("no contact uri (leg: %d)", leg)
        return -1
    msg.set_ruri(d.contact[leg])
    return 1


def w_dlg_set_timeout_by_profile(msg, name, second, third=None):
    """dlg_set_timeout_by_profile(profile, [value,] timeout): every dialog in it."""
    if third is None:
        value, timeout = None, second
    else:
        value, timeout = second, third
    try:
        timeout = int(timeout)
    except (TypeError, ValueError):
        log.error("dlg_set_timeout_by_profile: bad timeout %r", timeout)
        return -1
    has_value = profiles().has_value.get(name)
    n = 0
    for d in store().all():
        for pname, pvalue in d.profiles:
            if pname == name and (not has_value or value is None or pvalue == value):
                if set_timeout(d.h_entry, d.h_id, timeout):
                    n += 1
                break
    return 1


def w_dlg_remote_profile(msg, cmd, name, value, uid, expires):
    """dlg_remote_profile(cmd, profile, value, uid, expires): count a dialog another
    node manages in a profile ("add", until `expires`, a unix time) or stop ("rm")."""
    p = profiles()
    if not p.known(name):
        log.error("dlg_remote_profile: profile %s not found", name)
        return -1
    if not uid:
        log.error("dlg_remote_profile: empty uid")
        return -1
    if cmd == "add":
        try:
            exp = int(expires or 0)
        except ValueError:
            log.error("dlg_remote_profile: bad expires %r", expires)
            return -1
        return p.remote_add(name, value or "", uid, exp)
    if cmd == "rm":
        return p.remote_rm(name, value or "", uid)
    log.error("dlg_remote_profile: unknown command %s", cmd)
    return -1


def w_dlg_db_load_callid(msg, callid):
    """dlg_db_load_callid(callid): the dialogs with this Call-ID read from the table
    into memory now (ids already known are skipped)."""
    from . import db
    if db.dbcfg.mode == db.NONE:
        log.error("dlg_db_load_callid: no db_mode set")
        return -1
    try:
        return 1 if db.load(store(), callid=callid) >= 0 else -1
    except Exception as e:
        log.error("dlg_db_load_callid: %s", e)
        return -1


def _fx_flag(v):
    n = int(v)
    if not 0 <= n <= 31:
        raise ValueError("a dialog flag is 0..31")
    return n


FUNCTIONS = [
    Function("dlg_manage", w_dlg_manage),
    Function("is_known_dlg", w_is_known_dlg),
    Function("set_dlg_profile", w_set_dlg_profile,
             args=(Arg("str", fixup=_profile_name), Arg("spve", optional=True))),
    Function("unset_dlg_profile", w_unset_dlg_profile,
             args=(Arg("str", fixup=_profile_name), Arg("spve", optional=True))),
    Function("is_in_profile", w_is_in_profile,
             args=(Arg("str", fixup=_profile_name), Arg("spve", optional=True))),
    Function("get_profile_size", w_get_profile_size_any,
             args=(Arg("str", fixup=_profile_name), Arg("raw", fixup=_fx_second),
                   Arg("raw", optional=True, fixup=_fx_second))),
    Function("dlg_isflagset", w_dlg_isflagset, args=(Arg("int", fixup=_fx_flag),)),
    Function("dlg_setflag", w_dlg_setflag, args=(Arg("int", fixup=_fx_flag),)),
    Function("dlg_resetflag", w_dlg_resetflag, args=(Arg("int", fixup=_fx_flag),)),
    Function("dlg_set_timeout", w_dlg_set_timeout,
             args=(Arg("igp"), Arg("igp", optional=True), Arg("igp", optional=True))),
    Function("dlg_bye", w_dlg_bye, args=(Arg("str", fixup=_fx_side),)),
    Function("dlg_refer", w_dlg_refer, args=(Arg("str", fixup=_fx_side2), Arg("spve"))),
    Function("dlg_bridge", w_dlg_bridge, args=(Arg("spve"), Arg("spve"), Arg("spve"))),
    Function("dlg_get", w_dlg_get, args=(Arg("spve"), Arg("spve"), Arg("spve"))),
    Function("dlg_set_property", w_dlg_set_property, args=(Arg("spve"),)),
    Function("dlg_reset_property", w_dlg_reset_property, args=(Arg("spve"),)),
    Function("dlg_set_ruri", w_dlg_set_ruri),
    Function("dlg_remote_profile", w_dlg_remote_profile,
             args=(Arg("spve"), Arg("spve"), Arg("spve"), Arg("spve"), Arg("spve"))),
    Function("dlg_db_load_callid", w_dlg_db_load_callid, args=(Arg("spve"),)),
    Function("dlg_set_timeout_by_profile", w_dlg_set_timeout_by_profile,
             args=(Arg("str", fixup=_profile_name), Arg("spve"), Arg("spve", optional=True))),
]
