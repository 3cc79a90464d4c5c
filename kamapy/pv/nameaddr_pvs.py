"""PVs over the From and To headers: $fu $fU $fd $fn $ft, $tu $tU $td $tn $tt.

Writing $fu/$fU/$fd and $tu/$tU/$td changes the header's URI through a lump, as
Kamailio does: the message sent on carries the new URI, while reads in the script keep
returning the received one. Change each header once per message (a second change
overlaps the first lump, as in Kamailio).
"""

from __future__ import annotations

import logging

from ..sip import lumps
from ..sip.errors import SipParseError
from .base import fn_pv
from .registry import PvDef
from .values import to_str

log = logging.getLogger("kamapy.core")


def _from(msg):
    try:
        return msg.from_hdr
    except SipParseError:
        return None


def _to(msg):
    try:
        return msg.to_hdr
    except SipParseError:
        return None


def _uri_of(nameaddr):
    if nameaddr is None:
        return None
    try:
        return nameaddr.parsed_uri
    except SipParseError:
        return None


def _getters(header):
    def uri(msg):
        na = header(msg)
        return na.uri if na is not None else None

    def user(msg):
        u = _uri_of(header(msg))
        return (u.user or None) if u is not None else None

    def domain(msg):
        u = _uri_of(header(msg))
        return (u.host or None) if u is not None else None

    def user_length(msg):
        u = _uri_of(header(msg))
        return len(u.user or "") if u is not None else None

    def display(msg):
        na = header(msg)
        return (na.display or None) if na is not None else None

    def tag(msg):
        na = header(msg)
        return (na.tag or None) if na is not None else None

    def uri_length(msg):
        na = header(msg)
        return len(na.uri) if na is not None else None

    return uri, user, domain, user_length, display, tag, uri_length


def _uri_writer(key, header, part):
    """A setter replacing the URI of the From/To header (part None = the whole URI,
    else "user" / "host" of it)."""
    def setter(msg, value):
        na = header(msg)
        if na is None or (value is None and part != "user"):
            log.error("cannot set the %s URI", key)
            return -1
        if part is None:
            new = to_str(value)
        else:
            uri = _uri_of(na)
            if uri is None:
                return -1
            new = uri.replace(**{part: to_str(value)})
        hf = msg.get_header(key)
        start, end = msg.raw_value_span(hf)
        pos = msg.text.find(na.uri, start, end)
        if pos < 0 or not new:
            return -1
        lumps.replace_range(msg, pos, pos + len(na.uri), new)
        return None
    return setter


def to_tag_state(msg):
    """$tts: 1 when the To header has a tag."""
    na = _to(msg)
    return 1 if na is not None and na.tag else 0


def _defs(prefix, long_prefix, header):
    uri, user, domain, user_length, display, tag, uri_length = _getters(header)
    cap = long_prefix.capitalize()
    set_uri = _uri_writer(long_prefix, header, None)
    set_user = _uri_writer(long_prefix, header, "user")
    set_host = _uri_writer(long_prefix, header, "host")
    return [
        PvDef(f"{prefix}u", fn_pv(f"{cap}UriPv", uri, set_uri)),
        PvDef(long_prefix, fn_pv(f"{cap}UriPv", uri, set_uri)),
        PvDef(f"{prefix}U", fn_pv(f"{cap}UserPv", user, set_user)),
        PvDef(f"{long_prefix}.user", fn_pv(f"{cap}UserPv", user, set_user)),
        PvDef(f"{prefix}Ul", fn_pv(f"{cap}UserLengthPv", user_length)),
        PvDef(f"{prefix}d", fn_pv(f"{cap}DomainPv", domain, set_host)),
        PvDef(f"{long_prefix}.domain", fn_pv(f"{cap}DomainPv", domain, set_host)),
        PvDef(f"{prefix}n", fn_pv(f"{cap}DisplayPv", display)),
        PvDef(f"{prefix}t", fn_pv(f"{cap}TagPv", tag)),
        PvDef(f"{prefix}ul", fn_pv(f"{cap}UriLengthPv", uri_length)),
    ]


PVS = _defs("f", "from", _from) + _defs("t", "to", _to) + [
    PvDef("tts", fn_pv("ToTagStatePv", to_tag_state)),
]
