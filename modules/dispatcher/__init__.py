"""dispatcher: SIP load balancing over destination sets (Kamailio 5.6 dispatcher,
README: src/modules/dispatcher/doc).

  dslist.py    the list file / table rows, the sets in Kamailio's order, the hashes
  core.py      shared state in shm, the selection (algorithms 0-13), failover XAVPs,
               marking, matching
  ping.py      OPTIONS keepalives from the timer process through tm's local requests
  callload.py  algorithm 10's call tracking (ds_load_update / ds_load_unset)
  rpc.py       dispatcher.list / reload / set_state / set_duid_state / ping_active /
               add / remove / hash

Not built (refused at start-up when set): DNS modes other than
resolving at load time (ds_dns_mode 2/4/8, ds_dns_interval, ds_dns_ttl). The kemi
event_callback names the script function for dispatcher:dst-* (kamapy/kemi/events.py).
"""

from __future__ import annotations

import logging

from kamapy.module import (
    ANY_ROUTE,
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
    RpcCommand,
    non_negative,
)
from kamapy.pv.base import Pv
from kamapy.pv.errors import PvError
from kamapy.pv.registry import PvDef

from . import callload, core, ping, rpc
from . import dslist as L
from .core import SETOP_DSTURI, SETOP_RURI, SETOP_XAVP, cfg

log = logging.getLogger("kamapy.dispatcher")

RF = REQUEST_ROUTE | FAILURE_ROUTE


# ------------------------------------------------------------------ functions
def _select(mode):
    def fn(msg, setid, alg, limit):
        return core.select(msg, setid, alg, -1 if limit is None else limit, mode)
    return fn


def w_select_routes(msg, rules, mode, limit=None):
    return core.select_routes(msg, rules, mode, limit or 0)


def w_next_dst(msg):
    return core.update_dst(msg, True, SETOP_DSTURI)


def w_next_domain(msg):
    return core.update_dst(msg, True, SETOP_RURI)


def w_set_dst(msg):
    return core.update_dst(msg, False, SETOP_DSTURI)


def w_set_domain(msg):
    return core.update_dst(msg, False, SETOP_RURI)


def parse_state_flags(text: str) -> int:
    """ds_parse_flags: a/i/d/t/p letters; -1 for anything else."""
    flag = 0
    for c in text:
        c = c.lower()
        if c == "a":
            flag &= ~L.STATES_ALL
        elif c == "i":
            flag |= L.INACTIVE
        elif c == "d":
            flag |= L.DISABLED
        elif c == "t":
            flag |= L.TRYING
        elif c == "p":
            flag |= L.PROBING
        else:
            return -1
    return flag


def w_mark_dst(msg, state=None):
    if not state:
        st = L.INACTIVE | (L.PROBING if cfg.probing_mode == core.PROBE_ALL else 0)
    else:
        st = parse_state_flags(state)
        if st < 0:
            log.warning("Failed to parse state flags: %s", state)
            return -1
    return core.mark_dst(msg, st)


def w_is_from_list(msg, group=None, mode=None, uri=None):
    if group is None:
        return core.is_from_list(msg, -1, None, core.MATCH_NOPROTO)
    if mode is None:
        return core.is_from_list(msg, group, None, core.MATCH_NOPROTO)
    return core.is_from_list(msg, group, uri, mode)


def w_list_exists(msg, group):
    return core.list_exists(group)


def w_is_active(msg, group, uri=None):
    return core.is_active(group, uri)


def w_reload(msg):
    if core.shared() is None:
        log.error("not ready for reload")
        return -1
    if not core.reload_allowed():
        log.error("ongoing reload")
        return -1
    if core.load() != 0:
        log.error("Error reloading from %s", "db" if cfg.db_url else "list")
        return -1
    return 1


def w_load_update(msg):
    return -1 if callload.update(msg) < 0 else 1


def w_load_unset(msg):
    return -1 if callload.unset(msg) < 0 else 1


FUNCTIONS = [
    Function("ds_select_dst", _select(SETOP_DSTURI),
             (Arg("igp"), Arg("igp"), Arg("igp", optional=True)), RF),
    Function("ds_select_domain", _select(SETOP_RURI),
             (Arg("igp"), Arg("igp"), Arg("igp", optional=True)), RF),
    Function("ds_select", _select(SETOP_XAVP),
             (Arg("igp"), Arg("igp"), Arg("igp", optional=True)), ANY_ROUTE),
    Function("ds_select_routes", w_select_routes,
             (Arg("spve"), Arg("spve"), Arg("igp", optional=True)), RF),
    Function("ds_next_dst", w_next_dst, (), RF),
    Function("ds_next_domain", w_next_domain, (), RF),
    Function("ds_set_dst", w_set_dst, (), RF),
    Function("ds_set_domain", w_set_domain, (), RF),
    Function("ds_mark_dst", w_mark_dst, (Arg("str", optional=True),), RF | ONREPLY_ROUTE),
    Function("ds_is_from_list", w_is_from_list,
             (Arg("igp", optional=True), Arg("igp", optional=True), Arg("spve", optional=True)),
             ANY_ROUTE),
    Function("ds_list_exists", w_list_exists, (Arg("igp"),), ANY_ROUTE),
    Function("ds_list_exist", w_list_exists, (Arg("igp"),), ANY_ROUTE),
    Function("ds_is_active", w_is_active, (Arg("igp"), Arg("spve", optional=True)), ANY_ROUTE),
    Function("ds_load_update", w_load_update, (), ANY_ROUTE),
    Function("ds_load_unset", w_load_unset, (), ANY_ROUTE),
    Function("ds_reload", w_reload, (), ANY_ROUTE),
]


# ------------------------------------------------------------------ $dsv
class DsvPv(Pv):
    """$dsv(code|reason|flags): the reply (or event) that moved a destination, inside
    event_route[dispatcher:dst-down|up]."""

    __slots__ = ("key",)

    def __init__(self, spec):
        super().__init__(spec)
        if spec.inner not in ("code", "reason", "flags"):
            raise PvError(f"invalid $dsv name {spec.inner!r}", 0)
        self.key = spec.inner

    def get(self, msg):
        rctx = msg.module_data.get("ds.rctx") if msg is not None else None
        if rctx is None:
            return None
        v = rctx.get(self.key)
        if self.key == "reason" and not v:
            return None
        return v


# ------------------------------------------------------------------ params
def _probing_mode(v):
    if v not in (0, 1, 2, 3):
        raise ValueError("ds_probing_mode must be 0, 1, 2 or 3")


def _dns_mode(v):
    if v != 1 and v != 0:
        raise ValueError("only ds_dns_mode 1 (resolve at start-up and reload) is built")


PARAMS = [
    Param("list_file", str, "/etc/kamailio/dispatcher.list"),
    Param("db_url", str, None),
    Param("table_name", str, "dispatcher"),
    Param("setid_col", str, "setid"),
    Param("destination_col", str, "destination"),
    Param("flags_col", str, "flags"),
    Param("priority_col", str, "priority"),
    Param("attrs_col", str, "attrs"),
    Param("force_dst", int, 1),
    Param("flags", int, 0),
    Param("use_default", int, 0),
    Param("xavp_dst", str, "_dsdst_"),
    Param("xavp_dst_mode", int, 0),
    Param("xavp_ctx", str, "_dsctx_"),
    Param("xavp_ctx_mode", int, 0),
    Param("hash_pvar", str, None),
    Param("setid_pvname", str, None),
    Param("attrs_pvname", str, None),
    Param("ds_ping_method", str, "OPTIONS"),
    Param("ds_ping_from", str, "sip:dispatcher@localhost"),
    Param("ds_ping_interval", int, 0, validate=non_negative),
    Param("ds_probing_threshold", int, 1),
    Param("ds_inactive_threshold", int, 1),
    Param("ds_ping_reply_codes", str, None),
    Param("ds_probing_mode", int, 0, validate=_probing_mode),
    Param("ds_ping_latency_stats", int, 0),
    Param("ds_latency_estimator_alpha", int, 900),
    Param("ds_hash_size", int, 0, validate=non_negative),
    Param("ds_hash_expire", int, 7200),
    Param("ds_hash_initexpire", int, 7200),
    Param("ds_hash_check_interval", int, 30),
    Param("outbound_proxy", str, None),
    Param("ds_default_socket", str, None),
    Param("ds_default_sockname", str, None),
    Param("ds_timer_mode", int, 0),   # one timer process here: both modes run there
    Param("event_callback", str, None),  # KEMI: dispatcher:dst-* (kamapy/kemi/events.py)
    Param("ds_attrs_none", int, 0),
    Param("ds_db_extra_attrs", str, None),
    Param("ds_load_mode", int, 0),
    Param("reload_delta", int, 5),
    Param("ds_dns_mode", int, 1, validate=_dns_mode),
    Param("ds_dns_interval", int, 600, unsupported="ds_dns_interval: ds_dns_mode 4 is not built"),
    Param("ds_dns_ttl", int, 0, unsupported="ds_dns_ttl is not built"),
]


def _check():
    v = exports.values
    out = []
    if v.get("ds_ping_reply_codes"):
        try:
            ping.parse_reply_codes(v["ds_ping_reply_codes"])
        except ValueError as e:
            out.append(("ds_ping_reply_codes", str(e)))
    for name in ("setid_pvname", "attrs_pvname"):
        if v.get(name):
            try:
                from kamapy.pv.parse import parse_pv
                pv = parse_pv(v[name])
                if not pv.writable:
                    out.append((name, f"[{v[name]}]- invalid {name}"))
            except PvError as e:
                out.append((name, f"[{v[name]}]- invalid {name}: {e}"))
    return out


def _extra_attrs(text):
    out = []
    for part in (text or "").strip().rstrip(";").split(";"):
        if not part.strip():
            continue
        a, _, c = part.partition("=")
        if not c.strip():
            raise ValueError("invalid db extra attrs parameter")
        out.append((a.strip(), c.strip()))
    return out


def mod_init():
    from kamapy.pv.format import compile_format
    from kamapy.pv.parse import parse_pv
    from kamapy.runtime import rt
    from kamapy.timer import register_timer
    v = exports.values
    cfg.flags = v["flags"]
    cfg.use_default = v["use_default"]
    cfg.force_dst = v["force_dst"]
    cfg.xavp_dst = v["xavp_dst"] or ""
    cfg.xavp_dst_mode = v["xavp_dst_mode"]
    cfg.xavp_ctx = v["xavp_ctx"] or ""
    cfg.xavp_ctx_mode = v["xavp_ctx_mode"]
    cfg.probing_threshold = v["ds_probing_threshold"]
    cfg.inactive_threshold = v["ds_inactive_threshold"]
    cfg.probing_mode = v["ds_probing_mode"]
    cfg.ping_method = v["ds_ping_method"] or "OPTIONS"
    cfg.ping_from = v["ds_ping_from"] or "sip:dispatcher@localhost"
    cfg.ping_interval = v["ds_ping_interval"]
    cfg.ping_latency_stats = v["ds_ping_latency_stats"]
    alpha = v["ds_latency_estimator_alpha"]
    if 0 < alpha < 1000:
        cfg.latency_alpha = alpha / 1000.0
    else:
        log.error("invalid ds_latency_estimator_alpha must be between 0 and 1000,"
                  " using default[%.3f]", cfg.latency_alpha)
    cfg.outbound_proxy = v["outbound_proxy"] or ""
    cfg.attrs_none = v["ds_attrs_none"]
    cfg.load_mode = v["ds_load_mode"]
    cfg.reload_delta = v["reload_delta"]
    cfg.list_file = v["list_file"]
    cfg.db_url = v["db_url"] or None
    cfg.table = v["table_name"]
    cfg.cols = (v["setid_col"], v["destination_col"], v["flags_col"], v["priority_col"],
                v["attrs_col"])
    cfg.hash_size = v["ds_hash_size"]
    cfg.hash_expire = v["ds_hash_expire"]
    cfg.hash_initexpire = v["ds_hash_initexpire"]
    try:
        cfg.ping_reply_codes = ping.parse_reply_codes(v["ds_ping_reply_codes"] or "")
        cfg.db_extra_attrs = _extra_attrs(v["ds_db_extra_attrs"])
    except ValueError as e:
        log.error("dispatcher: %s", e)
        return -1
    cfg.default_socket = None
    if v["ds_default_sockname"]:
        si = next((s for s in rt.sockets if getattr(s, "name", None) == v["ds_default_sockname"]), None)
        if si is None:
            log.error("non-local socket name <%s>", v["ds_default_sockname"])
            return -1
        cfg.default_socket = si
    elif v["ds_default_socket"]:
        from kamapy.net.socket_info import socket_of_spec
        if socket_of_spec(v["ds_default_socket"]) is None:
            log.error("non-local socket <%s>", v["ds_default_socket"])
            return -1
        cfg.default_socket = v["ds_default_socket"]
    cfg.hash_pvar = compile_format(v["hash_pvar"]) if v["hash_pvar"] else None
    cfg.setid_pv = parse_pv(v["setid_pvname"]) if v["setid_pvname"] else None
    cfg.attrs_pv = parse_pv(v["attrs_pvname"]) if v["attrs_pvname"] else None
    core.init_shared()
    if core.load() != 0:
        log.error("no dispatching list loaded from %s", "database" if cfg.db_url else "file")
        return -1
    if cfg.hash_size > 0:
        register_timer("dispatcher-load", max(1, v["ds_hash_check_interval"]), callload.expire)
    if cfg.ping_interval > 0:
        if ping.tmb.bind() is None:  # Kamailio's load_tm_api(&tmb)
            log.error("could not load the TM-functions - disable DS ping")
            return -1
        ping.tmb.api.define(ping.PING_CB, ping.on_reply)
        register_timer("dispatcher-ping", cfg.ping_interval, ping.ping_all)
    return 0


exports = ModuleExports(
    name="dispatcher",
    params=PARAMS,
    functions=FUNCTIONS,
    pvs=[PvDef("dsv", DsvPv, inner="required")],
    rpc=[
        RpcCommand("dispatcher.reload", rpc.rpc_reload, "Reload dispatcher destination sets"),
        RpcCommand("dispatcher.list", rpc.rpc_list, "Return the content of dispatcher sets"),
        RpcCommand("dispatcher.set_state", rpc.rpc_set_state,
                   "Set the state of a destination by address"),
        RpcCommand("dispatcher.set_duid_state", rpc.rpc_set_duid_state,
                   "Set the state of a destination by duid"),
        RpcCommand("dispatcher.ping_active", rpc.rpc_ping_active,
                   "Manage setting on/off the pinging (keepalive) of destinations"),
        RpcCommand("dispatcher.add", rpc.rpc_add, "Add a destination address in memory"),
        RpcCommand("dispatcher.remove", rpc.rpc_remove, "Remove a destination address from memory"),
        RpcCommand("dispatcher.hash", rpc.rpc_hash, "Compute the hash if the values"),
    ],
    event_routes=["dispatcher:dst-down", "dispatcher:dst-up"],
    mod_init=mod_init,
    check=_check,
)
