"""Finding the dialog of an in-dialog request (Kamailio: dlg_handlers.c dlg_onroute,
dlg_hash.c match_dialog): by the rr param our Record-Route carried (h_entry.h_id in
reverse hex, as Kamailio writes it), checked against Call-ID and tags, or by Call-ID
and tags alone, per dlg_match_mode."""

from __future__ import annotations

from kamapy.sip.errors import SipParseError

from .store import Dialog, store

MATCH_DID_ONLY = 0
MATCH_DID_FALLBACK = 1
MATCH_DID_NONE = 2

DIR_DOWNSTREAM = 1
DIR_UPSTREAM = 2

_HEX = "0123456789abcdef"


def reverse_hex(n: int) -> str:
    """Kamailio's int2reverse_hex: hex digits, least significant first."""
    if n == 0:
        return "0"
    out = []
    while n:
        out.append(_HEX[n & 15])
        n >>= 4
    return "".join(out)


def parse_reverse_hex(s: str) -> int | None:
    n = 0
    for i, c in enumerate(s.lower()):
        v = _HEX.find(c)
        if v < 0:
            return None
        n |= v << (4 * i)
    return n if s else None


def did_value(d: Dialog) -> str:
    return reverse_hex(d.h_entry) + "." + reverse_hex(d.h_id)


def parse_did(value: str) -> tuple[int, int] | None:
    e, sep, i = value.partition(".")
    if not sep:
        return None
    # an empty part reads 0, as Kamailio's reverse_hex2int has it
    he, hi = parse_reverse_hex(e) if e else 0, parse_reverse_hex(i) if i else 0
    if he is None or hi is None:
        return None
    return he, hi


def msg_ids(msg) -> tuple[str, str, str] | None:
    """(Call-ID, From tag, To tag) of a request, None when unparseable."""
    try:
        return msg.callid, msg.from_hdr.tag or "", msg.to_hdr.tag or ""
    except (SipParseError, AttributeError):
        return None


def direction(d: Dialog, callid: str, ftag: str, ttag: str) -> int | None:
    """The flow of a request with these ids within dialog d, or None if not of it."""
    if d.callid != callid:
        return None
    caller, callee = d.tag
    if ftag == caller and (not callee or ttag == callee or not ttag):
        return DIR_DOWNSTREAM
    if callee and ftag == callee and ttag == caller:
        return DIR_UPSTREAM
    return None


def by_ids(callid: str, ftag: str, ttag: str, deleted: bool = False) -> tuple[Dialog, int] | None:
    """With `deleted`, an ended dialog still held by its BYE's transaction counts too:
    Kamailio's hash search (internal_get_dlg) finds it, in state 5, until freed."""
    for d in store().by_callid(callid):
        if d.state >= 5 and not deleted:
            continue
        dr = direction(d, callid, ftag, ttag)
        if dr is not None:
            return d, dr
    return None


def find(msg, did: str | None, mode: int) -> tuple[Dialog, int] | None:
    found = _find(msg, did, mode)
    if found is None:
        from .replication import replica
        rep = replica()
        if rep is not None and rep.adopt_for(msg_ids(msg), did, mode):
            found = _find(msg, did, mode)  # a dead node's dialog, taken over from Redis
    return found


def _find(msg, did: str | None, mode: int) -> tuple[Dialog, int] | None:
    ids = msg_ids(msg)
    if ids is None:
        return None
    if mode != MATCH_DID_NONE and did:
        parsed = parse_did(did)
        if parsed is None:
            return None  # a malformed param ends the matching, in mode 1 too (dlg_onroute)
        d = store().load(*parsed)
        if d is not None:
            dr = direction(d, *ids)
            if dr is not None:
                return d, dr
        if mode == MATCH_DID_ONLY:
            return None
    elif mode == MATCH_DID_ONLY:
        return None
    return by_ids(*ids, deleted=True)
