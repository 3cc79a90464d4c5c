"""loose_route(): routing by the Route set (RFC 3261 §16.4, §16.12), as Kamailio's rr.

Return codes (Kamailio's):
   1  the next hop comes from the Route set ($du set, or the R-URI rewritten)
   2  it comes from the flow token in our Route entry (RFC 5626, outbound loaded)
  -1  no Route header, or it could not be processed
  -2  our Route entry has a flow token that does not validate (tampered / foreign)
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

from kamapy.runtime import rt
from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import append_header, del_lump
from kamapy.sip.msg_flags import FL_ROUTE_ADDR  # the next hop comes from a Route entry
from kamapy.sip.myself import uri_is_myself
from kamapy.sip.uri import parse_uri

from .outbound import obb, process_outbound
from .route_params import run_callbacks, set_routed_params
from .route_set import remove_entries, route_headers
from .settings import settings

log = logging.getLogger("kamapy.rr")

RR_DRIVEN = 1
RR_OB_DRIVEN = 2
RR_ERROR = -1
RR_NOT_DRIVEN = -1
RR_FLOW_TOKEN_BROKEN = -2
RR_PRELOADED = -3

MODE_LOOSE_ONLY = 1       # loose_route_mode bit 1: skip the R-URI == myself test
MODE_SKIP_OUTBOUND = 2    # bit 2: no flow-token processing


def loose_route(msg, mode: int | None = None) -> int:
    if mode is None:
        mode = settings.loose_route_mode
    rc = _fast_loose_route(msg, mode)
    if rc is not None:
        return rc
    return _loose_route(msg, mode)


# ------------------------------------------------------------------ the usual case
# An in-dialog request whose only Route is our own Record-Route: one Route line, one
# <uri> in it, a To-tag, an R-URI that is not ours. _fast_loose_route() recognises it
# from the Route line's spans (msg.hdr_spans, no HeaderField) and does what
# _after_loose() does for it (routed params, the Route line deleted, callbacks, 1)
# without building the Route entries; anything else (or any doubt) returns None and
# the general code decides. tests/modules/test_rr_fast_paths.py runs every message
# both ways and compares everything they leave behind.

# uri_is_myself() answers by (scheme, host, port, transport) against rt.sockets and
# rt.aliases: remembered for the lists it was computed with (sockets and aliases are
# replaced or appended to, never changed in place)
_MEMO_MAX = 256
_memo: dict = {}
_memo_rt: tuple = ()


def _is_mine(uri) -> bool:
    """uri_is_myself(uri), remembered."""
    global _memo_rt
    socks = rt.sockets
    aliases = rt.aliases
    tok = (socks, len(socks), aliases, len(aliases))
    if tok != _memo_rt or len(_memo) >= _MEMO_MAX:
        _memo.clear()
        _memo_rt = tok
    ps = uri.params_str
    key = (uri.scheme, uri.host, uri.port,
           uri.transport if ps and "transport" in ps.lower() else "")
    v = _memo.get(key)
    if v is None:
        v = _memo[key] = uri_is_myself(uri)
    return v


def _fast_loose_route(msg, mode: int):
    """The usual in-dialog case (see above): its return code, or None to let the
    general code decide."""
    if settings.force_send_socket:
        return None
    try:
        h = msg.hdr_spans("route")  # line, value as received (what _build() splits), more lines?
    except SipParseError:
        return None  # the general code reports it
    if h is None:
        return RR_NOT_DRIVEN  # no Route header at all
    start, v0, v1, end, more = h
    if more:
        return None  # more than one Route line
    # the whole value is one <uri>: no display name, no header params, no second entry
    text = msg.text
    if v1 - v0 < 2 or text[v0] != "<" or text.find(">", v0, v1) != v1 - 1 or text.find(",", v0, v1) >= 0:
        return None
    try:
        ruri = msg.parsed_ruri  # parsed whatever the mode: a bad one is RR_ERROR
        if not msg.to_tag:
            return None  # pre-loaded Route set
        if not mode & MODE_LOOSE_ONLY and _is_mine(ruri):
            return None  # after a strict router
        uri = parse_uri(text[v0 + 1:v1 - 1].strip())  # parse_nameaddr's uri text
        if not _is_mine(uri):
            return None  # the next hop comes from a foreign Route
        if uri.user and obb.api is not None:
            return None  # perhaps a flow token
        ps = uri.params_str
        if ps and settings.enable_double_rr and "r2" in ps.lower() and _is_double_rr(uri):
            return None
    except Exception:  # the general code reports (or raises) it
        return None
    # _after_loose() with our entry the only one
    params = ";" + ps if ps else None
    set_routed_params(msg, params)
    del_lump(msg, start, end - start, "route")  # remove_entries: the whole line
    if params:
        run_callbacks(msg, params[1:])
    return RR_DRIVEN


# ------------------------------------------------------------------ the general code
def _loose_route(msg, mode: int) -> int:
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
        outbound = not mode & MODE_SKIP_OUTBOUND
        if preloaded:
            return _after_loose(msg, entries, True, outbound)
        if not mode & MODE_LOOSE_ONLY and uri_is_myself(ruri):
            return _after_strict(msg, entries, ruri)
        return _after_loose(msg, entries, False, outbound)
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


def _after_loose(msg, entries, preloaded: bool, outbound: bool = True) -> int:
    removed = []
    first = entries[0]
    uri = first.uri
    params = None
    use_ob = 0
    if uri_is_myself(uri):
        params = ";" + uri.params_str if uri.params_str else None
        if outbound:
            use_ob = process_outbound(msg, uri.user)
            if use_ob < 0:
                log.info("failed to process outbound flow-token")
                return RR_FLOW_TOKEN_BROKEN
        removed.append(first)
        entries = entries[1:]
        if settings.force_send_socket and not _is_double_rr(uri) and not use_ob:
            _force_socket_of(msg, uri)
        if entries and _is_double_rr(uri):
            if not use_ob:
                _force_socket_of(msg, entries[0].uri)
            removed.append(entries[0])
            entries = entries[1:]
    set_routed_params(msg, params)
    if not entries:
        remove_entries(msg, removed)
        if params:
            run_callbacks(msg, params[1:])
        if use_ob:
            return RR_OB_DRIVEN
        return RR_PRELOADED if preloaded else RR_DRIVEN
    nxt = entries[0]
    if removed:
        msg.xflags |= FL_ROUTE_ADDR
    if not nxt.is_loose:
        _handle_strict_next_hop(msg, nxt)
        removed.append(nxt)
    elif not use_ob:  # the flow, not the next Route, is the destination
        msg.dst_uri = nxt.uri_text
    remove_entries(msg, removed)
    if params:
        run_callbacks(msg, params[1:])
    return RR_OB_DRIVEN if use_ob else RR_DRIVEN


def _handle_strict_next_hop(msg, nxt):
    """RFC 3261 §16.12: a strict router gets its URI in the R-URI; the R-URI we had
    goes to the end of the Route set."""
    append_header(msg, f"Route: <{msg.current_uri}>", "route")
    msg.set_ruri(nxt.uri_text)
