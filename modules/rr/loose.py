"""loose_route(): routing by the Route set (RFC 3261 §16.4, §16.12), as Kamailio's rr.

Return codes (Kamailio's):
   1  the next hop comes from the Route set ($du set, or the R-URI rewritten)
  -1  no Route header, or it could not be processed
  -3  a pre-loaded Route set (no To-tag) held only us: our entry was removed

The cases:
  - in-dialog, the R-URI is ours: the previous hop was a strict router that put our
    Record-Route into the R-URI; the real R-URI is the last Route entry (§16.12
    "after_strict"), the next hop the first one;
  - otherwise ("after_loose"): if the first Route entry is ours it is removed (with the
    second one of a double Record-Route); the next entry gives the next hop: $du for a
    loose router, or the R-URI for a strict one, whose own R-URI is then saved as a
    last Route entry.
"""

from __future__ import annotations

import logging

from kamapy.msg_flags import FL_ROUTE_ADDR  # the next hop comes from a Route entry
from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import append_header

from .myself import uri_is_myself
from .route_params import run_callbacks, set_routed_params
from .route_set import remove_entries, route_headers
from .settings import settings

log = logging.getLogger("kamapy.rr")

RR_DRIVEN = 1
RR_ERROR = -1
RR_NOT_DRIVEN = -1
RR_PRELOADED = -3

MODE_LOOSE_ONLY = 1       # loose_route_mode bit 1: skip the R-URI == myself test
MODE_SKIP_OUTBOUND = 2    # bit 2: no flow-token processing (no outbound module yet)


def loose_route(msg, mode: int | None = None) -> int:
    if mode is None:
        mode = settings.loose_route_mode
    try:
        headers = route_headers(msg)
    except SipParseError as e:
        log.error("failed to parse Route header: %s", e.reason if hasattr(e, "reason") else e)
        return RR_ERROR
    if not headers:
        return RR_NOT_DRIVEN
    try:
        ruri = msg.parsed_ruri
        preloaded = not msg.to_hdr.tag
    except SipParseError as e:
        log.error("cannot route: %s", e)
        return RR_ERROR
    entries = [entry for row in headers for entry in row]
    try:
        if preloaded:
            return _after_loose(msg, entries, True)
        if not mode & MODE_LOOSE_ONLY and uri_is_myself(ruri):
            return _after_strict(msg, entries, ruri)
        return _after_loose(msg, entries, False)
    except SipParseError as e:
        log.error("bad Route URI: %s", e)
        return RR_ERROR


def _is_double_rr(uri) -> bool:
    return bool(settings.enable_double_rr) and uri.param("r2") is not None


def _force_socket_of(msg, uri):
    """A double Record-Route names the socket on the other side: send from it."""
    from kamapy.core_functions import _find_listen_socket

    proto = uri.transport or ("tls" if uri.secure else "udp")
    si = _find_listen_socket(proto, uri.host, uri.port or 0)
    if si is not None:
        msg.force_send_socket = si
    elif settings.enable_socket_mismatch_warning:
        log.warning("no socket found to match second RR (%s)", uri.text)


def _after_strict(msg, entries, ruri) -> int:
    """The R-URI was our Record-Route: the previous hop is a strict router."""
    removed = []
    first = entries[0]
    if _is_double_rr(first.uri) and uri_is_myself(first.uri):
        _force_socket_of(msg, first.uri)
        removed.append(first)
        entries = entries[1:]
        if not entries:
            log.error("only one route present")
            return RR_ERROR
    nxt = entries[0]
    # our entry was the R-URI, so its params are what check_route_param sees
    params = ";" + ruri.params_str if ruri.params_str else None
    set_routed_params(msg, params)
    if not nxt.is_loose:
        # the next hop is a strict router too (or the end point): it goes into the R-URI
        msg.set_ruri(nxt.uri_text)
        removed.append(nxt)
    else:
        # a loose router next: it is $du, the real R-URI was saved as the last entry
        msg.dst_uri = nxt.uri_text
        last = entries[-1]
        msg.set_ruri(last.uri_text)
        removed.append(last)
    remove_entries(msg, removed)
    if params:
        run_callbacks(msg, params[1:])
    return RR_DRIVEN


def _after_loose(msg, entries, preloaded: bool) -> int:
    removed = []
    first = entries[0]
    uri = first.uri
    params = None
    if uri_is_myself(uri):
        params = ";" + uri.params_str if uri.params_str else None
        removed.append(first)
        entries = entries[1:]
        if settings.force_send_socket and not _is_double_rr(uri):
            _force_socket_of(msg, uri)
        if entries and _is_double_rr(uri):
            _force_socket_of(msg, entries[0].uri)
            removed.append(entries[0])
            entries = entries[1:]
    set_routed_params(msg, params)
    if not entries:
        remove_entries(msg, removed)
        if params:
            run_callbacks(msg, params[1:])
        return RR_PRELOADED if preloaded else RR_DRIVEN
    nxt = entries[0]
    if removed:
        msg.xflags |= FL_ROUTE_ADDR
    if not nxt.is_loose:
        _handle_strict_next_hop(msg, nxt)
        removed.append(nxt)
    else:
        msg.dst_uri = nxt.uri_text
    remove_entries(msg, removed)
    if params:
        run_callbacks(msg, params[1:])
    return RR_DRIVEN


def _handle_strict_next_hop(msg, nxt):
    """RFC 3261 §16.12: a strict router gets its URI in the R-URI; the R-URI we had
    goes to the end of the Route set."""
    append_header(msg, f"Route: <{msg.current_uri}>", "route")
    msg.set_ruri(nxt.uri_text)
