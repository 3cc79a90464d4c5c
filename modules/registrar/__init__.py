"""registrar: REGISTER processing and location lookup (Kamailio: modules/registrar).

save() stores a REGISTER's bindings in usrloc and answers it; lookup() turns a request
to an AOR into requests to its registered contacts (R-URI, $du, Path route set and
extra branches). Needs usrloc (the location tables) and sl (the replies).
"""

from __future__ import annotations

import logging

from kamapy_modules.usrloc.api import UL_CONTACT_EXPIRE

from kamapy import stats
from kamapy.module import (
    ANY_ROUTE,
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
)

from . import aor as aor_mod
from . import lookup as lookup_mod
from . import save as save_mod
from .bound import slb, ul
from .expired_event import EVENT, event_route, on_expired
from .settings import cfg
from .sockets import add_sock_hdr
from .ulc import ULC_PV, fetch_contacts, free_contacts
from .unregister import reg_from_user, unregister

log = logging.getLogger("kamapy.registrar")

STATS = ["max_expires", "max_contacts", "default_expires", "accepted_regs", "rejected_regs"]

_INT_PARAMS = (
    "default_expires", "default_expires_range", "expires_range", "min_expires", "min_expires_mode",
    "max_expires", "append_branches", "case_sensitive", "max_contacts", "retry_after", "sock_flag",
    "sock_mode", "method_filtering", "use_path", "path_mode", "path_use_received", "path_check_local",
    "xavp_rcd_mask", "gruu_enabled", "outbound_mode", "regid_mode", "flow_timer", "contact_max_size",
    "lookup_filter_mode", "use_expired_contacts",
)
_STR_PARAMS = ("realm_prefix", "received_avp", "received_param", "sock_hdr_name", "xavp_cfg", "xavp_rcd")


def _table(name: str):
    """Fixup of a table argument: the usrloc domain, registered before the fork."""
    if not name:
        raise ValueError("a location table name is required")
    api = ul.api or ul.bind()
    if api is None:  # Kamailio's registrar: "Can't bind usrloc"
        raise ValueError('a location table needs usrloc: add loadmodule "usrloc"')
    return api.register_udomain(name)


def _flags(value) -> int:
    text = str(value).strip()
    if not text:
        return 0
    try:
        return int(text, 0)
    except ValueError:
        raise ValueError(f"bad save() flags {text!r}") from None


def _avp_name(spec: str):
    from kamapy.pv.avp import parse_avp_name
    s = spec.strip()
    if s.startswith("$avp(") and s.endswith(")"):
        return parse_avp_name(s[5:-1])
    if s.startswith("$"):
        raise ValueError(f"received_avp must be an $avp(...), not {spec!r}")
    return parse_avp_name(s)


def mod_init():
    p = exports.param
    for name in _INT_PARAMS:
        setattr(cfg, name, p(name))
    for name in _STR_PARAMS:
        setattr(cfg, name, p(name) or "")
    cfg.default_q = p("default_q")
    if cfg.flow_timer > 0 and cfg.outbound_mode == 0:
        log.error("registrar: flow_timer can be set only with outbound_mode 1 or 2")
        return -1
    try:
        cfg.received_avp_name = _avp_name(cfg.received_avp) if cfg.received_avp else None
    except ValueError as e:
        log.error("registrar: %s", e)
        return -1
    if ul.bind() is None:
        log.error("registrar: cannot bind usrloc: load the usrloc module")
        return -1
    if slb.bind() is None:
        log.error("registrar: cannot bind to SL API: load the sl module before this module")
        return -1
    cfg.use_domain = ul.api.use_domain()
    cfg.nat_flag = ul.api.nat_flag()
    aor_mod.reset_cache()
    g = stats.group("registrar")
    if g is not None:
        g["max_expires"].set(cfg.max_expires)
        g["max_contacts"].set(cfg.max_contacts)
        g["default_expires"].set(cfg.default_expires)
    if event_route() is not None:
        ul.api.register_ulcb(UL_CONTACT_EXPIRE, on_expired)
    return 0


# ---------------------------------------------------------------------- config functions
def w_save(msg, d, flags=0, uri=""):
    return save_mod.save(msg, d, flags or 0, uri or None)


def w_lookup(msg, d, uri=""):
    return lookup_mod.lookup(msg, d, uri or None)


def w_lookup_to_dset(msg, d, uri=""):
    return lookup_mod.lookup(msg, d, uri or None, to_dset=True)


def w_lookup_branches(msg, d):
    return lookup_mod.lookup_branches(msg, d)


def w_registered(msg, d, uri="", match_option=0, match_action=0):
    return lookup_mod.registered(msg, d, uri or None, match_option or 0, match_action or 0)


def w_unregister(msg, d, uri="", ruid=""):
    return unregister(msg, d, uri or "", ruid or "")


def w_fetch_contacts(msg, d, uri, profile):
    return fetch_contacts(msg, d, uri, profile)


def w_free_contacts(msg, profile):
    return free_contacts(msg, profile)


def w_send_reply(msg):
    return save_mod.send_reply(msg)


def w_add_sock_hdr(msg, name):
    return add_sock_hdr(msg, name)


def w_reg_from_user(msg, d, uri, mode=0):
    return reg_from_user(msg, d, uri, mode or 0)


TABLE = Arg("str", fixup=_table)
URI = Arg("spve", optional=True, default="")

exports = ModuleExports(
    name="registrar",
    params=[
        Param("default_expires", int, 3600),
        Param("default_expires_range", int, 0),
        Param("expires_range", int, 0),
        Param("min_expires", int, 60),
        Param("min_expires_mode", int, 0),
        Param("max_expires", int, 0),
        Param("default_q", int, -1),
        Param("realm_prefix", str, ""),
        Param("append_branches", int, 1),
        Param("case_sensitive", int, 0),
        Param("received_avp", str, ""),
        Param("received_param", str, "received"),
        Param("max_contacts", int, 0),
        Param("retry_after", int, 0),
        Param("sock_flag", int, -1),
        Param("sock_hdr_name", str, ""),
        Param("sock_mode", int, 0),
        Param("method_filtering", int, 0),
        Param("use_path", int, 0),
        Param("path_mode", int, 2),
        Param("path_use_received", int, 0),
        Param("path_check_local", int, 0),
        Param("reg_callid_avp", str, ""),
        Param("xavp_cfg", str, ""),
        Param("xavp_rcd", str, ""),
        Param("xavp_rcd_mask", int, 0),
        Param("gruu_enabled", int, 1),
        Param("outbound_mode", int, 0),
        Param("regid_mode", int, 0),
        Param("flow_timer", int, 0),
        Param("contact_max_size", int, 512),
        Param("event_callback", str, ""),
        Param("lookup_filter_mode", int, 0),
        Param("use_expired_contacts", int, 0),
    ],
    functions=[
        Function("save", w_save, (TABLE, Arg("raw", fixup=_flags, optional=True, default=0), URI),
                 REQUEST_ROUTE | FAILURE_ROUTE | ONREPLY_ROUTE),
        Function("lookup", w_lookup, (TABLE, URI), REQUEST_ROUTE | FAILURE_ROUTE),
        Function("lookup_to_dset", w_lookup_to_dset, (TABLE, URI), REQUEST_ROUTE | FAILURE_ROUTE),
        Function("lookup_branches", w_lookup_branches, (TABLE,), REQUEST_ROUTE | FAILURE_ROUTE),
        Function("registered", w_registered, (TABLE, URI, Arg("igp", optional=True, default=0),
                                              Arg("igp", optional=True, default=0)), ANY_ROUTE),
        Function("add_sock_hdr", w_add_sock_hdr, (Arg("spve"),), REQUEST_ROUTE),
        Function("unregister", w_unregister, (TABLE, URI, Arg("spve", optional=True, default="")), ANY_ROUTE),
        Function("reg_fetch_contacts", w_fetch_contacts, (TABLE, Arg("spve"), Arg("str")), ANY_ROUTE),
        Function("reg_free_contacts", w_free_contacts, (Arg("str"),), ANY_ROUTE),
        Function("reg_send_reply", w_send_reply, (), REQUEST_ROUTE | FAILURE_ROUTE),
        Function("reg_from_user", w_reg_from_user, (TABLE, Arg("spve"), Arg("igp", optional=True, default=0)),
                 ANY_ROUTE),
    ],
    pvs=[ULC_PV],
    stats=STATS,
    event_routes=[EVENT],
    mod_init=mod_init,
    doc=__doc__,
)
