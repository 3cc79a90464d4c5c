"""PVs over the R-URI ($ru ...), the original R-URI ($ou ...) and the destination URI
($du ...). Writing one of the R-URI parts runs the same rewrite as rewriteuser() & co."""

from __future__ import annotations

import logging

from ..sip.errors import SipParseError
from ..sip.msg import REPLY
from ..sip.uri import parse_uri
from . import ruri_rewrite as rw
from .base import fn_pv
from .registry import PvDef
from .values import IntStr, to_str

log = logging.getLogger("kamapy.core")


def _ruri(msg):
    if msg.type == REPLY:
        return None
    try:
        return msg.parsed_ruri
    except SipParseError:
        return None


def _original_ruri(msg):
    if msg.type == REPLY:
        return None
    try:
        return msg.parsed_orig_ruri
    except SipParseError:
        return None


def _dst_uri(msg):
    if msg.dst_uri is None:
        return None
    try:
        return parse_uri(msg.dst_uri)
    except SipParseError:
        return None


# the parts, as pv_get_xuri_attr gives them
def uri_user(uri):
    return uri.user or None if uri is not None else None


def uri_host(uri):
    return uri.host or None if uri is not None else None


def uri_port(uri):
    """The port as Kamailio gives it: text with an int side, "5060" when the URI has
    none (also for sips: pv_get_5060)."""
    if uri is None:
        return None
    if uri.port is None:
        return IntStr("5060", 5060)
    return IntStr(uri.port_str or str(uri.port), uri.port)


_TRANSPORT_IDS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}


def uri_transport(uri):
    """The transport parameter as written, "UDP" when absent (pv_get_udp)."""
    if uri is None:
        return None
    value = uri.param("transport")
    if not value:
        return IntStr("UDP", 1)
    return IntStr(value, _TRANSPORT_IDS.get(value.lower(), 0))


def uri_scheme(uri):
    """sip, sips, tel, tels ... ; a sip(s) URI with user=phone is a tel(s) one, as
    Kamailio's parser types it."""
    if uri is None:
        return None
    scheme = uri.scheme
    if scheme in ("sip", "sips") and (uri.param("user") or "").lower() == "phone":
        return "tel" if scheme == "sip" else "tels"
    return scheme


def uri_user_length(uri):
    return len(uri.user or "") if uri is not None else None


# ---------------------------------------------------------------- R-URI
def ruri(msg):
    """$ru: the current R-URI (rewritten or as received); $null when it does not parse,
    as Kamailio 5.6's pv_get_ruri parses it first (a good parse is cached on msg)."""
    if _ruri(msg) is None:
        return None
    return msg.current_uri


def original_ruri(msg):
    """$ou: the R-URI as received; $null when it does not parse (pv_get_ouri)."""
    if _original_ruri(msg) is None:
        return None
    return msg.ruri


def set_ruri(msg, value):
    if value is None:
        log.error("$ru cannot be set to $null")
        return -1
    msg.set_ruri(to_str(value))
    return None


def ruri_length(msg):
    """$rul: the length of the R-URI."""
    return None if msg.type == REPLY else len(msg.current_uri)


def _rewriter(kind, empty_on_null):
    def setter(msg, value):
        if value is None or value == "":
            if not empty_on_null:
                log.error("cannot set this R-URI part to $null")
                return -1
            value = ""
        rc = rw.rewrite_ruri(msg, kind, to_str(value))
        return None if rc > 0 else rc
    return setter


def _part_getter(part, source):
    def get(msg):
        return part(source(msg))
    return get


# ---------------------------------------------------------------- destination URI
def dst_uri(msg):
    """$du: the destination URI (next hop), $null when unset."""
    return msg.dst_uri


def set_dst_uri(msg, value):
    msg.dst_uri = None if value is None else to_str(value)
    return None


PVS = [
    PvDef("ru", fn_pv("RUriPv", ruri, set_ruri)),
    PvDef("ruri", fn_pv("RUriPv", ruri, set_ruri)),
    PvDef("rul", fn_pv("RUriLengthPv", ruri_length)),
    PvDef("rU", fn_pv("RUriUserPv", _part_getter(uri_user, _ruri), _rewriter(rw.SET_USER, True))),
    PvDef("ruri.user", fn_pv("RUriUserPv", _part_getter(uri_user, _ruri), _rewriter(rw.SET_USER, True))),
    PvDef("rUl", fn_pv("RUriUserLengthPv", _part_getter(uri_user_length, _ruri))),
    PvDef("rd", fn_pv("RUriHostPv", _part_getter(uri_host, _ruri), _rewriter(rw.SET_HOST, False))),
    PvDef("ruri.domain", fn_pv("RUriHostPv", _part_getter(uri_host, _ruri), _rewriter(rw.SET_HOST, False))),
    PvDef("rp", fn_pv("RUriPortPv", _part_getter(uri_port, _ruri), _rewriter(rw.SET_PORT, True))),
    PvDef("rP", fn_pv("RUriTransportPv", _part_getter(uri_transport, _ruri))),
    PvDef("rz", fn_pv("RUriSchemePv", _part_getter(uri_scheme, _ruri))),
    PvDef("ou", fn_pv("OrigRUriPv", original_ruri)),
    PvDef("ouri", fn_pv("OrigRUriPv", original_ruri)),
    PvDef("oU", fn_pv("OrigRUriUserPv", _part_getter(uri_user, _original_ruri))),
    PvDef("oUl", fn_pv("OrigRUriUserLengthPv", _part_getter(uri_user_length, _original_ruri))),
    PvDef("od", fn_pv("OrigRUriHostPv", _part_getter(uri_host, _original_ruri))),
    PvDef("op", fn_pv("OrigRUriPortPv", _part_getter(uri_port, _original_ruri))),
    PvDef("oP", fn_pv("OrigRUriTransportPv", _part_getter(uri_transport, _original_ruri))),
    PvDef("du", fn_pv("DstUriPv", dst_uri, set_dst_uri)),
    PvDef("duri", fn_pv("DstUriPv", dst_uri, set_dst_uri)),
    PvDef("dd", fn_pv("DstUriHostPv", _part_getter(uri_host, _dst_uri))),
    PvDef("dp", fn_pv("DstUriPortPv", _part_getter(uri_port, _dst_uri))),
    PvDef("dP", fn_pv("DstUriTransportPv", _part_getter(uri_transport, _dst_uri))),
]
