"""The config functions (Kamailio 5.6 rtpproxy.c force_rtp_proxy, unforce_rtp_proxy,
rtpproxy_manage, start_recording, $rtppstat; rtpproxy_stream.c) and the SDP rewrite.

The SDP is rewritten in place through body lumps as Kamailio does it (alter_mediaport,
alter_rtcp, alter_mediaip, the nortpproxy_str line at the body's end), so it composes
with nathelper's fix_nated_sdp and textops like Kamailio's does.
"""

from __future__ import annotations

import logging
import re

from kamapy.module import BRANCH_FAILURE_ROUTE, FAILURE_ROUTE
from kamapy.pv.base import Pv
from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import anchor_lump, del_lump, insert_after, insert_before
from kamapy.sip.methods import (
    METHOD_ACK,
    METHOD_BYE,
    METHOD_CANCEL,
    METHOD_INVITE,
    METHOD_PRACK,
    METHOD_UPDATE,
)
from kamapy.sip.msg import REPLY
from kamapy.sip.sdp_body import extract_sdp, has_sdp
from kamapy.strutil import atoi

from ..rtpengine import sdp_marks
from ..rtpengine.functions import _reply_transaction, _transaction, managed_method
from . import relay
from .relay import registry

log = logging.getLogger("kamapy.rtpproxy")


class Config:
    nortpproxy = "a=nortpproxy:yes"
    timeout_socket = ""
    extra_id_pv = None     # callable(msg) -> str
    rtp_inst_pvar = None
    ice_avp = None         # Pv of ice_candidate_priority_avp


cfg = Config()


class Selection:
    __slots__ = ("msg", "rset")

    def __init__(self):
        self.msg = None
        self.rset = None


sel = Selection()


def default_set():
    return registry.find_set(0)


def active_set(msg):
    return sel.rset if sel.msg is msg else default_set()


def set_rtp_proxy_set(msg, ref) -> int:
    sel.msg = None
    sel.rset = None
    if isinstance(ref, Pv):
        value = ref.get(msg)
        if not isinstance(value, int):
            log.error("pv param must hold an integer value")
            return -1
        rset = registry.find_set(value)
        if rset is None:
            log.error("could not locate rtpproxy set %d", value)
            return -1
        ref = rset
    sel.msg = msg
    sel.rset = ref
    return 1


def _set_inst(msg, node):
    if cfg.rtp_inst_pvar is not None:
        try:
            cfg.rtp_inst_pvar.set(msg, node.url)
        except Exception:  # noqa: BLE001
            log.error("Failed to add RTPProxy URI to pvar")


class _Err(Exception):
    pass


def _ids(msg):
    """(callid, to_tag, from_tag) as Kamailio's get_callid/get_to_tag/get_from_tag."""
    try:
        callid = msg.callid.strip(" \t\r\n")
    except SipParseError:
        callid = ""
    if not callid:
        log.error("can't get Call-Id field")
        raise _Err
    try:
        to_tag = msg.to_hdr.tag or ""
    except (SipParseError, AttributeError):
        log.error("can't get To tag")
        raise _Err from None
    try:
        from_tag = msg.from_hdr.tag or ""
    except (SipParseError, AttributeError):
        from_tag = ""
    if not from_tag:
        log.error("can't get From tag")
        raise _Err
    return callid, to_tag, from_tag


def _branch(msg, via: int) -> str:
    try:
        v = msg.via1 if via == 1 else msg.via2
        b = (v.branch or "") if v is not None else ""
    except (SipParseError, AttributeError):
        b = ""
    if not b:
        log.error("can't get Via branch")
        raise _Err
    return b


def _suffix(msg, via: int, extra: bool) -> str:
    if via:
        return ";" + _branch(msg, via)
    if extra and cfg.extra_id_pv is not None:
        try:
            return ";" + cfg.extra_id_pv(msg)
        except Exception:  # noqa: BLE001
            log.error("cannot print the additional id")
    return ""


# ------------------------------------------------------------------ destroy
_IGNORED_ON_DELETE = set("aAiIeElLfFrRcCoOxXwWzZ")


def unforce(msg, flags: str | None) -> int:
    via, to, extra = 0, True, False
    for ch in flags or "":
        if ch == "1":
            via = 1
        elif ch == "2":
            via = 2
        elif ch == "3":
            via = 2 if msg.type == REPLY else 1
        elif ch in "tT":
            to = False
        elif ch == "b":
            extra = True
        elif ch not in _IGNORED_ON_DELETE:
            log.error("unknown option `%s'", ch)
            return -1
    try:
        callid, to_tag, from_tag = _ids(msg)
        if not to:
            to_tag = ""
        suffix = _suffix(msg, via, extra)
    except _Err:
        return -1
    node = relay.select_node(active_set(msg), callid)
    if node is None:
        log.error("no available proxies")
        return -1
    _set_inst(msg, node)
    cmd = f"D {callid}{suffix} {from_tag}" + (f" {to_tag}" if to_tag else "")
    relay.send_command(node, cmd)
    return 1


def rtpproxy_destroy(msg, flags=None) -> int:
    return unforce(msg, flags)


# ------------------------------------------------------------------ offer / answer
def _isnull(ip: str, v6: bool) -> bool:
    if v6:
        return all(c in "0:" for c in ip)
    return ip == "0.0.0.0"


def _alter_ip(msg, text, ip_start, ip_end, oldpf, newip, newpf):
    """alter_mediaip: replace the address (and the IP4/IP6 digit when the family
    changes); nothing when the old one is a null address of the same family or equal."""
    old = text[ip_start:ip_end]
    if oldpf == newpf and _isnull(old, oldpf == 6):
        return
    if old == newip:
        return
    start, new = ip_start, newip
    if oldpf != newpf:
        new = ("6 " if newpf == 6 else "4 ") + newip
        start = ip_start - 1
        while start > 0 and text[start] not in "46":
            start -= 1
    insert_after(del_lump(msg, start, ip_end - start, "body"), new, "body")


def _pf(addrtype: str) -> int:
    return 6 if addrtype.upper() == "IP6" else 4


def _candidates(ip: str, port: int, priority: int) -> str:
    digits = "".join(c for c in ip if c.isdigit())
    hi = priority != 2
    return (f"a=candidate:{digits} 2 UDP {'2197815294' if hi else '16777214'} {ip} {port + 1}"
            f" typ relay\r\n"
            f"a=candidate:{digits} 1 UDP {'2197815295' if hi else '16777215'} {ip} {port}"
            f" typ relay\r\n")


def force(msg, flags: str | None, ip: str, offer: bool, forced_ip: bool) -> int:
    from kamapy.sip.sdp import parse_sdp
    opts = ["?"]
    rep = ""
    via = 0
    flookup = force_ = real = commip = autobridge = extra = False
    s = flags or ""
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "1":
            via = 1
        elif ch == "2":
            via = 2
        elif ch == "3":
            via = 2 if msg.type == REPLY else 1
        elif ch in "aA":
            opts.append("A")
            real = True
        elif ch == "b":
            extra = True
        elif ch in "iI":
            opts.append("I")
        elif ch in "eE":
            opts.append("E")
        elif ch in "lL":
            if not offer:
                return -1
            flookup = True
        elif ch in "fF":
            force_ = True
        elif ch in "rR":
            real = True
        elif ch in "cC":
            commip = True
        elif ch in "oO":
            pass   # parsed; the o= address is rewritten either way (as Kamailio 5.6)
        elif ch in "xX":
            autobridge = True
        elif ch in "wW":
            opts.append("S")
        elif ch in "zZ":
            rep += "Z"
            while i + 1 < len(s) and s[i + 1].isdigit():
                i += 1
                rep += s[i]
        elif ch in "tT":
            pass
        else:
            log.error("unknown option `%s'", ch)
            return -1
        i += 1
    create = offer
    found = extract_sdp(msg)  # Kamailio's rtpproxy extract_body: nathelper's flavour
    if found is None:
        log.error("can't extract body from the message")
        return -1
    start, end, _kind = found
    text = msg.text
    try:
        callid, to_tag, from_tag = _ids(msg)
        suffix = _suffix(msg, via, extra)
    except _Err:
        return -1
    is_reply = msg.type == REPLY
    if flookup:
        if not to_tag:
            return -1
        if not is_reply:
            from_tag, to_tag = to_tag, from_tag
        create = False
    elif (is_reply and offer) or (not is_reply and not offer):
        if not to_tag:
            return -1
        from_tag, to_tag = to_tag, from_tag
    sdp_text = text[start:end]
    proxied = False
    if cfg.nortpproxy:
        pos = 0
        while True:
            j = sdp_text.find(cfg.nortpproxy, pos)
            if j < 0:
                break
            if j > 0 and sdp_text[j - 1] in "\r\n":
                proxied = True
                break
            pos = j + len(cfg.nortpproxy)
    if proxied and not force_:
        return -2
    try:
        sdp = parse_sdp(sdp_text)
    except SipParseError:
        log.error("Unable to parse sdp")
        return -1
    rset = active_set(msg)
    opts[0] = "U" if create else "L"
    ice_prio = 0
    if cfg.ice_avp is not None:
        v = cfg.ice_avp.get(msg)
        if v is None:
            ice_prio = 2
        elif not isinstance(v, int) or not 0 <= v <= 2:
            log.error("invalid ice candidate priority value %s", v)
            return -1
        else:
            ice_prio = v
    if not sdp.medias:
        log.error("sdp w/o streams")
        return -1
    session_c = sdp.connection
    c1_altered = False
    o_done = sdp.origin is None
    for medianum, m in enumerate(sdp.medias, 1):
        # Kamailio stops at a stream with remote candidates here, but its SDP parser
        # looks for "a:remote-candidates:", which no SDP has: never
        conn = m.connection or session_c
        oldip = conn.address if conn else ""
        pf = _pf(conn.addrtype) if conn else 4
        oldport = sdp_text[m.port_start:m.port_end]
        if real:
            newip, newpf = oldip, pf
        else:
            newip = msg.rcv.src_ip
            newpf = 6 if ":" in newip else 4
        if pf == 6:
            if autobridge:
                opts += ["E", "I"]
                autobridge = False
            opts.append("6")
        elif autobridge:
            opts += ["I", "E"]
            autobridge = False
        while True:
            node = relay.select_node(rset, callid)
            if node is None:
                log.error("no available proxies")
                return -3
            _set_inst(msg, node)
            cmd = "".join(opts)
            if rep:
                if registry.cap(node, relay._REP) == 0:
                    log.warning("re-packetization is requested but is not supported by "
                                "the selected RTP proxy node")
                else:
                    cmd += rep
            if "RTP/" in m.proto.upper() and m.formats and registry.cap(node, relay._PTL):
                cmd += "c" + ",".join(re.findall(r"\d+", " ".join(m.formats)))
            cmd += f" {callid}{suffix} {newip} {oldport} {from_tag};{medianum}"
            if to_tag:
                cmd += f" {to_tag};{medianum}"
                if create and cfg.timeout_socket:
                    cmd += " " + cfg.timeout_socket
            reply = relay.send_command(node, cmd)
            if reply is not None:
                break
        argv = reply.split()[:10]
        if not argv:
            log.error("no reply from rtp proxy")
            return -1
        port = atoi(argv[0])
        if port <= 0 or port > 65535:
            if port != 0 or not flookup:
                log.error("incorrect port %d in reply from rtp proxy", port)
                return -1
        if len(argv) == 2:
            newpf = 4
        elif len(argv) >= 3:
            newpf = 6 if argv[2][:1] == "6" else 4
        if _isnull(oldip, pf == 6):
            newip = "::" if newpf == 6 else "0.0.0.0"
        elif forced_ip:
            newip = ip
        else:
            newip = argv[1] if len(argv) >= 2 else ip
        try:
            if oldport != "0" and oldport != str(port):
                a = start + m.port_start
                insert_after(del_lump(msg, a, len(oldport), "body"), str(port), "body")
            for line in m.attributes.lines:
                if line.value.startswith("rtcp:"):
                    ps = line.value_start + 5
                    pe = ps
                    while pe < line.end and sdp_text[pe] not in " \t":
                        pe += 1
                    if sdp_text[ps:pe] != str(port + 1):
                        insert_after(del_lump(msg, start + ps, pe - ps, "body"), str(port + 1),
                                     "body")
                    break
            if ice_prio:
                cands = [ln for ln in m.attributes.lines if ln.value.startswith("candidate:")]
                if cands:
                    insert_before(anchor_lump(msg, start + cands[-1].start, "body"),
                                  _candidates(newip, port, ice_prio), "body")
            if m.connection is not None or not c1_altered:
                if conn is not None:
                    _alter_ip(msg, text, start + conn.address_start, start + conn.address_end,
                              pf, newip, newpf)
                if m.connection is None:
                    c1_altered = True
            if commip and session_c is not None and not c1_altered:
                _alter_ip(msg, text, start + session_c.address_start,
                          start + session_c.address_end, _pf(session_c.addrtype), newip, newpf)
                c1_altered = True
            if not o_done:
                o_done = True
                ln = sdp.origin.line
                parts = ln.value.split(" ")
                os_ = start + ln.value_start + sum(len(p) + 1 for p in parts[:5])
                _alter_ip(msg, text, os_, os_ + len(parts[5]), _pf(parts[4]), newip, newpf)
        except SipParseError:
            log.error("del_lump failed")
            return -1
    if not proxied and cfg.nortpproxy:
        insert_after(anchor_lump(msg, end, "body"), "\r\n" + cfg.nortpproxy, "body")
    return 1


def rtpproxy_offer(msg, flags=None, ip=None) -> int:
    if ip is not None:
        return force(msg, flags, ip, True, True)
    return force(msg, flags, msg.rcv.dst_ip, True, False)


def rtpproxy_answer(msg, flags=None, ip=None) -> int:
    if msg.type != REPLY and msg.method_id != METHOD_ACK:
        return -1
    if ip is not None:
        return force(msg, flags, ip, False, True)
    return force(msg, flags, msg.rcv.dst_ip, False, False)


# ------------------------------------------------------------------ manage
def _route_type(msg) -> int:
    ctx = getattr(msg, "ctx", None)
    return ctx.route_type if ctx is not None else 1


def rtpproxy_manage(msg, flags=None, ip=None) -> int:
    if _route_type(msg) == BRANCH_FAILURE_ROUTE:
        return 1
    method = managed_method(msg, log)
    if not method:
        return -1
    if method & (METHOD_CANCEL | METHOD_BYE):
        return unforce(msg, flags)
    forced = ip is not None
    use_ip = ip if forced else msg.rcv.dst_ip
    sdp = has_sdp(msg)

    def go(offer):
        return force(msg, flags, use_ip, offer, forced)
    if msg.type != REPLY:
        if not sdp:
            return -1
        if method == METHOD_ACK:
            return go(False)
        if method & (METHOD_PRACK | METHOD_UPDATE):
            return go(True)
        if method == METHOD_INVITE:
            t = _transaction(msg)
            if t is not None:
                sdp_marks.mark(t.tid)
            else:
                sdp_marks.mark_request(msg)
            if _route_type(msg) == FAILURE_ROUTE:
                return unforce(msg, flags)
            return go(True)
        return -1
    if msg.status >= 300:
        return unforce(msg, flags)
    if sdp:
        if method & (METHOD_PRACK | METHOD_UPDATE):
            return go(False)
        t = _reply_transaction(msg)
        if t is None or sdp_marks.offered(t):
            return go(False)
        return go(True)
    return -1


# ------------------------------------------------------------------ P / S / R / Q
def _simple(msg, build, need_ptl=False):
    try:
        callid, to_tag, from_tag = _ids(msg)
    except _Err:
        return None
    node = relay.select_node(active_set(msg), callid)
    if node is None:
        log.error("no available proxies")
        return None
    if need_ptl and registry.cap(node, relay._PTL) == 0:
        log.error("required functionality is not supported by the version of the RTPproxy "
                  "running on the selected node.  Please upgrade the RTPproxy and try again.")
        return None
    _set_inst(msg, node)
    cmd = build(callid, to_tag, from_tag)
    if cmd is None:
        return None
    return node, relay.send_command(node, cmd)


def _stream(msg, pname: str, count: int, to_uac: bool) -> int:
    def build(callid, to_tag, from_tag):
        head = f"P{count} {callid} {pname} session "
        if not to_uac:
            if not to_tag:
                return None
            return head + f"{to_tag};1 {from_tag};1"
        return head + f"{from_tag};1 " + (f"{to_tag};1" if to_tag else "")
    return 1 if _simple(msg, build, True) is not None else -1


def rtpproxy_stream2uac(msg, pname, count) -> int:
    return _stream(msg, pname, int(count), True)


def rtpproxy_stream2uas(msg, pname, count) -> int:
    return _stream(msg, pname, int(count), False)


def _stop(msg, to_uac: bool) -> int:
    def build(callid, to_tag, from_tag):
        if not to_uac:
            if not to_tag:
                return None
            return f"S {callid} {to_tag};1 {from_tag};1"
        return f"S {callid} {from_tag};1 " + (f"{to_tag};1" if to_tag else "")
    return 1 if _simple(msg, build, True) is not None else -1


def rtpproxy_stop_stream2uac(msg) -> int:
    return _stop(msg, True)


def rtpproxy_stop_stream2uas(msg) -> int:
    return _stop(msg, False)


def start_recording(msg) -> int:
    def build(callid, to_tag, from_tag):
        if msg.type == REPLY:
            if not to_tag:
                return None
            return f"R {callid} {to_tag} {from_tag}"
        return f"R {callid} {from_tag}" + (f" {to_tag}" if to_tag else "")
    return 1 if _simple(msg, build) is not None else -1


def rtppstat(msg):
    def build(callid, to_tag, from_tag):
        if msg.type == REPLY:
            if not to_tag:
                return None
            return f"Q {callid} {to_tag};1 {from_tag}"
        return f"Q {callid} {from_tag}" + (f";1 {to_tag}" if to_tag else "")
    r = _simple(msg, build)
    return None if r is None or r[1] is None else r[1]


class RtppStatPv(Pv):
    __slots__ = ()

    def get(self, msg):
        return rtppstat(msg)
