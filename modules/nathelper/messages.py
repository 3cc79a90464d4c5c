"""nathelper's message functions (Kamailio 5.6 modules/nathelper, README §4-§6):
nat_uac_test(), is_rfc1918(), fix_nated_contact(), add_rcv_param(),
fix_nated_register(), the alias functions (alias.py), fix_nated_sdp() (sdp_fix.py),
$rr_count / $rr_top_count, and the message-side parameters.

Return codes are Kamailio's: > 0 true, < 0 false.
"""

from __future__ import annotations

import logging

from kamapy.module import (
    ANY_ROUTE,
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    LOCAL_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    Param,
)
from kamapy.pv.avp import add_avp, parse_avp_name
from kamapy.pv.base import Pv
from kamapy.pv.registry import PvDef
from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import anchor_lump, del_lump, insert_after
from kamapy.sip.msg import PROTO_NAMES, PROTO_UDP, PROTO_WS, PROTO_WSS, REQUEST

from . import alias, private, sdp_fix
from .contact_uri import (
    all_contacts,
    first_contact,
    host_offset,
    hostport_end,
    mark_rewritten,
    rewritten,
    uri_proto,
)

log = logging.getLogger("kamapy.nathelper")

SIP_PORT = 5060
SIPS_PORT = 5061

# what mod_init read from the modparams
CFG = {"received_avp": None}


# ------------------------------------------------------------------ helpers

def src_uri(msg) -> str:
    """sip:<src ip>:<src port>[;transport=<proto>] (Kamailio get_src_uri, short form)."""
    rcv = msg.rcv
    ip = f"[{rcv.src_ip}]" if rcv.af == 6 else rcv.src_ip
    uri = f"sip:{ip}:{rcv.src_port}"
    if rcv.proto not in (0, PROTO_UDP):
        uri += ";transport=" + PROTO_NAMES.get(rcv.proto, "udp")
    return uri


def _via_host_matches_src(msg, via) -> bool:
    """Kamailio check_via_address without DNS: the Via host is the source IP as text
    (IPv6 case-insensitively, with or without brackets)."""
    src = msg.rcv.src_ip
    host = via.host
    if msg.rcv.af == 6:
        h = host[1:-1] if host[:1] == "[" and host[-1:] == "]" else host
        if h.lower() == src.lower():
            return True
    return host == src


def _sip_port(port, proto: int) -> int:
    """Kamailio GET_SIP_PORT: the port, else 5061 for TLS and 5060 otherwise."""
    if port:
        return port
    return SIPS_PORT if proto == 3 else SIP_PORT


def _hosts_differ(dhost: str, rhost: str) -> bool:
    dip = private.parse_ip(dhost)
    rip = private.parse_ip(rhost)
    if dip is None and rip is None:
        if not rhost:
            return False
        return dhost != rhost
    if dip is None or rip is None:
        return True
    return dip != rip


_VIA_PROTO = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}


def _test_destination(msg) -> int:
    """nat_uac_test 512: the next hop differs from where the message names it, or it
    is a WebSocket (Kamailio nh_test_destination)."""
    if msg.type != REQUEST:
        try:
            via2 = msg.via2
        except SipParseError:
            return -1
        if via2 is None:
            return -1
        vproto = _VIA_PROTO.get(via2.proto, 0)
        if vproto in (PROTO_WS, PROTO_WSS):
            return 1
        dport = 0
        rport = via2.rport
        if rport:
            try:
                dport = int(rport)
            except ValueError:
                return -1
        if dport != 0 and dport != _sip_port(via2.port, vproto):
            return 1
        received = via2.received
        if received is None:
            return 0
        dhost, rhost = received, via2.host
    else:
        try:
            ruri = msg.parsed_ruri
        except SipParseError:
            return -1
        if not msg.dst_uri:
            return 1 if uri_proto(ruri) in (PROTO_WS, PROTO_WSS) else 0
        try:
            from kamapy.sip.uri import parse_uri
            duri = parse_uri(msg.dst_uri)
        except SipParseError:
            return -1
        dproto = uri_proto(duri)
        if dproto in (PROTO_WS, PROTO_WSS):
            return 1
        if _sip_port(duri.port, dproto) != _sip_port(ruri.port, uri_proto(ruri)):
            return 1
        dhost, rhost = duri.host, ruri.host
    if not dhost:
        return 0
    return 1 if _hosts_differ(dhost, rhost) else 0


# ------------------------------------------------------------------ nat_uac_test

def nat_uac_test(msg, flags: int) -> int:
    rcv = msg.rcv
    try:
        via1 = msg.via1
    except SipParseError:
        via1 = None
    if flags & 16 and via1 is not None and rcv.src_port != (via1.port or SIP_PORT):
        return 1
    if flags & 2 and via1 is not None and not _via_host_matches_src(msg, via1):
        return 1
    if flags & 1:
        fc = first_contact(msg)
        if fc is not None and private.is1918_text(fc.uri.host) == 1:
            return 1
    if flags & 8 and sdp_fix.sdp_has_private(msg) > 0:
        return 1
    if flags & 4 and via1 is not None and private.is1918_text(via1.host) == 1:
        return 1
    if flags & 32 and private.is_private_ip(rcv.src_ip):
        return 1
    if flags & 64 and rcv.proto in (PROTO_WS, PROTO_WSS):
        return 1
    if flags & 128:
        fc = first_contact(msg)
        if fc is not None and rcv.src_port != (fc.uri.port or SIP_PORT):
            return 1
    if flags & 256 and sdp_fix.sdp_cline_differs(msg) > 0:
        return 1
    if flags & 512 and _test_destination(msg) > 0:
        return 1
    return -1


def w_nat_uac_test(msg, flags) -> int:
    return nat_uac_test(msg, int(flags))


def is_rfc1918(msg, address) -> int:
    if not address:
        log.error("invalid address parameter")
        return -2
    return 1 if private.is1918_text(address) == 1 else -1


# ------------------------------------------------------------------ Contact rewriting

def fix_nated_contact(msg) -> int:
    """The first Contact URI's host:port becomes the source address (a maddr parameter,
    meaningless now, is dropped)."""
    fc = first_contact(msg)
    if fc is None:
        return -1
    if rewritten(msg):
        log.error("you can't call fix_nated_contact twice, check your config!")
        return -1
    uri = fc.uri
    text = uri.text
    rcv = msg.rcv
    ip = f"[{rcv.src_ip}]" if rcv.af == 6 else rcv.src_ip
    head = text[:host_offset(uri)]
    rest = text[hostport_end(uri):]
    maddr = _maddr_span(uri)
    if maddr is not None:
        ms, me = maddr
        before = text[hostport_end(uri):ms].rstrip(" \t;")
        rest = before + text[me:]
    new = f"{head}{ip}:{rcv.src_port}{rest}"
    anchor = del_lump(msg, fc.uri_start, fc.uri_end - fc.uri_start, "contact")
    insert_after(anchor, new, "contact")
    mark_rewritten(msg, fc.contact, new)
    return 1


def _maddr_span(uri):
    """(start of 'maddr=', end of its value) in uri.text, or None."""
    text = uri.text
    ps = text.find(";", hostport_end(uri))
    if ps < 0:
        return None
    end = text.find("?", ps)
    if end < 0:
        end = len(text)
    pos = ps
    while pos < end:
        nxt = text.find(";", pos + 1, end)
        if nxt < 0:
            nxt = end
        item = text[pos + 1:nxt]
        if item.split("=", 1)[0].strip().lower() == "maddr" and "=" in item:
            return pos + 1, nxt
        pos = nxt
    return None


def add_rcv_param(msg, flag=0) -> int:
    """;received="<source uri>" on every contact (flag 0), or ;received=<source uri>
    inside every Contact URI (flag != 0, UDP only)."""
    upos = int(flag or 0)
    if upos and msg.rcv.proto != PROTO_UDP:
        log.error("adding received parameter to Contact URI works only for UDP")
        return -1
    uri = src_uri(msg)
    if msg.get_header("contact") is None:
        return 1
    items = all_contacts(msg)
    if items is None:
        return -1
    for _c, (_cs, ce, _us, ue) in items:
        if upos:
            insert_after(anchor_lump(msg, ue, "contact"), ";received=" + uri, "contact")
        else:
            insert_after(anchor_lump(msg, ce, "contact"), f';received="{uri}"', "contact")
    return 1


def fix_nated_register(msg) -> int:
    name = CFG["received_avp"]
    if name is None:
        return 1
    add_avp(msg, name, src_uri(msg))
    return 1


# ------------------------------------------------------------------ PVs

class RrCountPv(Pv):
    """$rr_count: Record-Route entries in all Record-Route headers."""

    __slots__ = ()

    def get(self, msg):
        try:
            return len(msg.record_routes)
        except SipParseError:
            return None


class RrTopCountPv(Pv):
    """$rr_top_count: 2 when the top Record-Route URI carries r2 (a double
    Record-Route), 1 otherwise, 0 without Record-Route."""

    __slots__ = ()

    def get(self, msg):
        try:
            rrs = msg.record_routes
            if not rrs:
                return 0
            return 2 if rrs[0].parsed_uri.param("r2") is not None else 1
        except SipParseError:
            return None


PVS = [PvDef("rr_count", RrCountPv), PvDef("rr_top_count", RrTopCountPv)]


# ------------------------------------------------------------------ module wiring

def _check_avp(value):
    if value:
        s = value.strip()
        if not (s.startswith("$avp(") and s.endswith(")")):
            raise ValueError(f"malformed or non AVP {value} AVP definition")
        parse_avp_name(s[5:-1])


def _check_mode(value):
    if int(value) not in (0, 1):
        raise ValueError("nat_addr_mode is 0 or 1")


PARAMS = [
    Param("received_avp", str, "", validate=_check_avp),
    Param("nortpproxy_str", str, "a=nortpproxy:yes"),
    Param("append_sdp_oldmediaip", int, 1),
    Param("nat_addr_mode", int, 1),
    Param("alias_name", str, "alias"),
]

def mod_init():
    from kamapy.loader import get
    mod = get("nathelper")
    values = mod.values if mod is not None else {}
    rcv = values.get("received_avp") or ""
    CFG["received_avp"] = parse_avp_name(rcv.strip()[5:-1]) if rcv else None
    sdp_fix.STATE["nortpproxy"] = values.get("nortpproxy_str", "a=nortpproxy:yes") or ""
    sdp_fix.STATE["oldmediaip"] = int(values.get("append_sdp_oldmediaip", 1))
    private.STATE["nat_addr_mode"] = int(values.get("nat_addr_mode", 1))
    alias.set_name(values.get("alias_name") or "alias")
    return 0


child_init = None
check = None

_CONTACT_ROUTES = REQUEST_ROUTE | ONREPLY_ROUTE | BRANCH_ROUTE | LOCAL_ROUTE
_ANY_MSG = REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE | LOCAL_ROUTE
_OPT_S = Arg("spve", optional=True, default=None)

FUNCTIONS = [
    Function("nat_uac_test", w_nat_uac_test, (Arg("igp"),), _ANY_MSG),
    Function("is_rfc1918", is_rfc1918, (Arg("spve"),), ANY_ROUTE),
    Function("fix_nated_contact", fix_nated_contact, (), _CONTACT_ROUTES),
    Function("fix_nated_sdp", sdp_fix.fix_nated_sdp, (Arg("igp"), _OPT_S), _ANY_MSG),
    Function("add_rcv_param", add_rcv_param, (Arg("igp", optional=True, default=0),), REQUEST_ROUTE),
    Function("fix_nated_register", fix_nated_register, (), REQUEST_ROUTE),
    Function("add_contact_alias", alias.w_add_contact_alias, (_OPT_S, _OPT_S, _OPT_S),
             _CONTACT_ROUTES | FAILURE_ROUTE),
    Function("set_contact_alias", alias.w_set_contact_alias, (Arg("igp", optional=True, default=0),),
             _CONTACT_ROUTES),
    Function("handle_ruri_alias", alias.w_handle_ruri_alias, (Arg("igp", optional=True, default=0),),
             REQUEST_ROUTE | BRANCH_ROUTE | LOCAL_ROUTE),
    Function("set_alias_to_pv", alias.set_alias_to_pv, (Arg("str"),), ANY_ROUTE),
]
