"""The parameters of our own Route entry: what add_rr_param() stored in the dialog's
Record-Route comes back here on every in-dialog request (check_route_param,
is_direction, get_route_param, the rr callbacks).

loose_route() records them per message; when it has not run for this message (a
failure_route copy, a module asking early) they are taken from the first Route if
that one is ours, as Kamailio's redo_route_params does.
"""

from __future__ import annotations

import logging

from kamapy.sip.errors import SipParseError
from kamapy.sip.myself import uri_is_myself
from kamapy.sip.scan import parse_params

from .route_set import first_route

log = logging.getLogger("kamapy.rr")

ROUTED_KEY = "rr.routed_params"    # ";lr;ftag=..." of our Route entry, or None
DIRECTION_KEY = "rr.direction"

RR_FLOW_DOWNSTREAM = 1
RR_FLOW_UPSTREAM = 2

_callbacks: list = []  # (callback, param), run by loose_route on our Route's params


def set_routed_params(msg, params: str | None):
    msg.module_data[ROUTED_KEY] = params
    msg.module_data.pop(DIRECTION_KEY, None)


def _from_first_route(msg) -> str | None:
    entry = first_route(msg)
    if entry is None:
        return None
    try:
        uri = entry.uri
    except SipParseError:
        return None
    if not uri_is_myself(uri):
        return None
    return ";" + uri.params_str if uri.params_str else None


def routed_params(msg) -> str | None:
    """';name=value;...' of the Route entry that was ours (leading ';' included)."""
    cache = msg.module_data
    if ROUTED_KEY in cache:
        return cache[ROUTED_KEY]
    params = cache[ROUTED_KEY] = _from_first_route(msg)
    return params


def check_route_param(msg, regex) -> bool:
    params = routed_params(msg)
    return bool(params) and regex.search(params) is not None


def get_route_param(msg, name: str) -> str | None:
    """The value of a parameter of our Route entry ('' for a flag), None when absent."""
    params = routed_params(msg)
    if not params:
        return None
    lname = name.lower()
    for n, v in parse_params(params[1:]):
        if n.lower() == lname:
            return "" if v is None else v
    return None


def flow_direction(msg) -> int:
    """RR_FLOW_UPSTREAM when the From tag differs from the ftag the dialog's first
    request left in our Record-Route; downstream otherwise (also when unknown)."""
    cached = msg.module_data.get(DIRECTION_KEY)
    if cached is not None:
        return cached
    direction = RR_FLOW_DOWNSTREAM
    ftag = get_route_param(msg, "ftag")
    if ftag:
        try:
            tag = msg.from_tag
        except SipParseError:
            tag = None
        if tag and tag != ftag:
            direction = RR_FLOW_UPSTREAM
    msg.module_data[DIRECTION_KEY] = direction
    return direction


def is_direction(msg, direction: int) -> bool:
    return flow_direction(msg) == direction


def register_rrcb(callback, param=None) -> int:
    """callback(msg, params, param) runs whenever loose_route() handles our Route
    entry and it carries parameters (Kamailio's register_rrcb)."""
    _callbacks.append((callback, param))
    return 0


def run_callbacks(msg, params: str):
    for callback, param in _callbacks:
        try:
            callback(msg, params, param)
        except Exception:  # one module's bug must not break routing
            log.exception("rr callback %r failed", callback)
