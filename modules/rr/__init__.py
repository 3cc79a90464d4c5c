"""rr: record-routing and routing by the Route set (Kamailio: modules/rr).

record_route() puts us into the route set of a dialog; loose_route() routes the
in-dialog requests that come back with it (RFC 3261 §16.12, strict routers included).
Parameters stored with add_rr_param() come back to check_route_param() /
is_direction() on every later request of the dialog. Other modules use rr.api.
"""

from __future__ import annotations

import logging
import re

from kamapy.module import (
    ANY_ROUTE,
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
)
from kamapy.sip.msg_flags import FL_RR_ADDED

from . import api, loose, outbound, record, route_params  # noqa: F401  (api: for other modules)
from .pvs import PVS
from .settings import settings

log = logging.getLogger("kamapy.rr")

RR_ROUTES = REQUEST_ROUTE | BRANCH_ROUTE | FAILURE_ROUTE


def _in_branch_route(msg) -> bool:
    ctx = msg.ctx
    return ctx is not None and ctx.route_type == BRANCH_ROUTE


def _mark_added(msg):
    # a branch_route runs per branch on the same request: it may record-route each one
    if not _in_branch_route(msg):
        msg.xflags |= FL_RR_ADDED


def _double_attempt(msg) -> bool:
    if msg.xflags & FL_RR_ADDED:
        log.error("Double attempt to record-route")
        return True
    return False


def w_loose_route(msg) -> int:
    return loose.loose_route(msg)


def w_loose_route_preloaded(msg) -> int:
    return 1 if loose.loose_route(msg, 0) == loose.RR_PRELOADED else -1


def w_loose_route_mode(msg, mode) -> int:
    return loose.loose_route(msg, int(mode))


def w_record_route(msg, params=None) -> int:
    if _double_attempt(msg):
        return -1
    if record.record_route(msg, params or None) < 0:
        return -1
    _mark_added(msg)
    return 1


def w_record_route_preset(msg, addr1, addr2=None) -> int:
    if _double_attempt(msg):
        return -1
    if addr2 and not settings.enable_double_rr:
        log.error("Attempt to double record-route while 'enable_double_rr' param is disabled")
        return -1
    if record.record_route_preset(msg, addr1) < 0:
        return -1
    if addr2 and record.record_route_preset(msg, addr2) < 0:
        return -1
    _mark_added(msg)
    return 1


def w_record_route_advertised_address(msg, address) -> int:
    if _double_attempt(msg):
        return -1
    if record.record_route_advertised_address(msg, address) < 0:
        return -1
    _mark_added(msg)
    return 1


def w_add_rr_param(msg, param) -> int:
    return 1 if record.add_rr_param(msg, param) == 0 else -1


def w_remove_record_route(msg) -> int:
    record.remove_record_route(msg)
    msg.xflags &= ~FL_RR_ADDED
    return 1


def w_check_route_param(msg, regex) -> int:
    return 1 if route_params.check_route_param(msg, regex) else -1


def w_is_direction(msg, direction) -> int:
    return 1 if route_params.is_direction(msg, direction) else -1


def w_rr_next_hop_route(msg) -> int:
    return 1 if msg.xflags & loose.FL_ROUTE_ADDR else -1


def _regex(value):
    """Kamailio compiles with REG_EXTENDED | REG_ICASE | REG_NEWLINE."""
    try:
        return re.compile(value, re.IGNORECASE | re.MULTILINE)
    except re.error as e:
        raise ValueError(f"bad regular expression {value!r}: {e}") from None


def _direction(value):
    text = str(value).strip().lower()
    if text == "downstream":
        return route_params.RR_FLOW_DOWNSTREAM
    if text == "upstream":
        return route_params.RR_FLOW_UPSTREAM
    raise ValueError(f"unknown direction {value!r} (downstream or upstream)")


def _check_double_rr(value):
    if value not in (0, 1, 2):
        raise ValueError("enable_double_rr is 0, 1 or 2")


def mod_init():
    settings.load(exports.values)
    if settings.add_username and _outbound_loaded():
        log.error("add_username cannot be used together with the outbound module")
        return -1
    outbound.bind()  # rr_obb: ob_load_api() when outbound is loaded
    return 0


def _outbound_loaded() -> bool:
    from kamapy.loader import loaded
    return loaded("outbound")


exports = ModuleExports(
    name="rr",
    params=[
        Param("enable_full_lr", int, 0),
        Param("append_fromtag", int, 1),
        Param("enable_double_rr", int, 1, validate=_check_double_rr),
        Param("add_username", int, 0),
        Param("enable_socket_mismatch_warning", int, 1),
        Param("custom_user_avp", str, ""),
        Param("force_send_socket", int, 0),
        Param("ignore_sips", int, 0),
        Param("sockname_mode", int, 0),
        Param("loose_route_mode", int, 0),
    ],
    functions=[
        Function("loose_route", w_loose_route, (), REQUEST_ROUTE),
        Function("loose_route_preloaded", w_loose_route_preloaded, (), REQUEST_ROUTE),
        Function("loose_route_mode", w_loose_route_mode, (Arg("igp"),), REQUEST_ROUTE),
        Function("record_route", w_record_route, (Arg("spve", optional=True),), RR_ROUTES),
        Function("record_route_preset", w_record_route_preset,
                 (Arg("spve"), Arg("spve", optional=True)), RR_ROUTES),
        Function("record_route_advertised_address", w_record_route_advertised_address,
                 (Arg("spve"),), RR_ROUTES),
        Function("add_rr_param", w_add_rr_param, (Arg("spve"),), RR_ROUTES),
        Function("remove_record_route", w_remove_record_route, (), REQUEST_ROUTE | FAILURE_ROUTE),
        Function("check_route_param", w_check_route_param, (Arg("raw", fixup=_regex),), REQUEST_ROUTE),
        Function("is_direction", w_is_direction, (Arg("raw", fixup=_direction),), REQUEST_ROUTE),
        Function("rr_next_hop_route", w_rr_next_hop_route, (), ANY_ROUTE),
    ],
    pvs=PVS,
    mod_init=mod_init,
    doc=__doc__,
)
