"""pike: flood detection per source address (Kamailio: modules/pike, 5.6).

pike_check_req() counts the request's source address (pike_check_ip(ip) a given one)
in an IP tree shared by every worker (tree.py) and returns Kamailio's codes: 1 not
blocked (also on an internal error), -2 the address just became a flood source
(logged once at pike_log_level, pike:blocked_ips counted), -1 it still is. The config
decides what to do, as in the stock kamailio.cfg's WITH_ANTIFLOOD part.

Parameters sampling_time_unit (s, the swap timer), reqs_density_per_unit,
remove_latency (s an idle address is kept), pike_log_level; RPC pike.top [ALL|HOT|WARM]
(and its alias pike.list) answers as Kamailio's.
"""

from __future__ import annotations

import ipaddress
import logging

from kamapy import stats
from kamapy.module import ONREPLY_ROUTE, REQUEST_ROUTE, Arg, Function, ModuleExports, Param, RpcCommand
from kamapy.rpc.errors import RpcError
from kamapy.rpc.params import opt_str

from .tree import STATUS_ALL, STATUS_HOT, STATUS_WARM, IpTree

log = logging.getLogger("kamapy.pike")

_state: dict = {"tree": None}


def _ip_bytes(text: str) -> bytes | None:
    try:
        return ipaddress.ip_address(text.strip("[]")).packed
    except ValueError:
        return None


def _check(ip: bytes) -> int:
    tree = _state["tree"]
    if tree is None:
        return 1
    try:
        rc = tree.check(ip)
    except Exception:
        log.exception("pike: checking the address failed")
        return 1  # an internal error never reports the address as blocked
    if rc == -2:
        from kamapy.log import python_level
        log.log(python_level(exports.param("pike_log_level")), "PIKE - BLOCKing ip %s",
                str(ipaddress.ip_address(ip)))
        blocked = stats.stat("pike", "blocked_ips")
        if blocked is not None:
            blocked.inc()
    return rc


def pike_check_req(msg) -> int:
    ip = _ip_bytes(msg.rcv.src_ip)
    if ip is None:
        return 1
    return _check(ip)


def pike_check_ip(_msg, text) -> int:
    if not text:
        return -1
    # Kamailio 5.6 reads the text with str2ip(): an IPv4 address only
    ip = _ip_bytes(text) if ":" not in text else None
    if ip is None or len(ip) != 4:
        log.error("failed to parse ip address: %s", text)
        return -1
    return _check(ip)


def rpc_top(_rpc, params):
    text = opt_str(params, 0, convert=False) or "HOT"
    upper = text.upper()
    if "ALL" in upper:
        option = STATUS_ALL
    elif "HOT" in upper:
        option = STATUS_HOT
    elif "WARM" in upper:
        option = STATUS_WARM
    else:
        raise RpcError(500, "Bad argument. Select: ALL, HOT or WARM")
    tree = _state["tree"]
    rows = tree.top(option) if tree is not None else []
    return {"max_hits": exports.param("reqs_density_per_unit"), "list": rows, "number_of_rows": len(rows)}


def _positive(name):
    def check(v):
        if v <= 0:
            raise ValueError(f"{name} must be > 0")
    return check


def mod_init():
    from kamapy.timer import register_timer
    log.info("PIKE - initializing")
    tree = IpTree(exports.param("reqs_density_per_unit"), exports.param("remove_latency"),
                  exports.param("pike_log_level"))
    _state["tree"] = tree
    from kamapy.mem.counters import describe
    describe("pike", "blocked_ips", "Counter of blocked IP addresses")
    register_timer("pike-clean", 1, lambda _now: tree.clean())
    register_timer("pike-swap", exports.param("sampling_time_unit"), lambda _now: tree.swap())
    return 0


exports = ModuleExports(
    name="pike",
    params=[
        Param("sampling_time_unit", int, 2, validate=_positive("sampling_time_unit")),
        Param("reqs_density_per_unit", int, 30),
        Param("remove_latency", int, 120),
        Param("pike_log_level", int, 0),  # L_WARN
    ],
    functions=[
        Function("pike_check_req", pike_check_req, (), REQUEST_ROUTE | ONREPLY_ROUTE),
        Function("pike_check_ip", pike_check_ip, (Arg("spve"),), REQUEST_ROUTE | ONREPLY_ROUTE),
    ],
    rpc=[
        RpcCommand("pike.top", rpc_top, "pike.top Dump parts of the pike table"),
        RpcCommand("pike.list", rpc_top, "pike.top Dump parts of the pike table"),
    ],
    stats=["blocked_ips"],
    mod_init=mod_init,
)
