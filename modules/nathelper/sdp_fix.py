"""fix_nated_sdp() and the SDP tests of nat_uac_test (flags 8 and 256), after Kamailio
5.6 nathelper (fix_nated_sdp_f, replace_sdp_ip, alter_mediaip, sdp_1918,
test_sdp_cline; the body rules of nhelpr_funcs.c extract_body).

fix_nated_sdp(flags [, ip]):
  0x01  "a=direction:active" at the end of every m= block
  0x02  c= lines (and a=rtcp lines with an address) get the new address
  0x04  nortpproxy_str appended at the end of the body
  0x08  o= lines (and a=rtcp) get the new address
The new address is the ip argument when given and not empty, else the source IP.
A line already holding that address or the null address is left alone; each
changed line adds "a=oldmediaip:<old>" at the end when append_sdp_oldmediaip is set.
Returns 1 when an address was replaced, 2 when none was, -1 on error.
In a multipart/mixed body the first part whose Content-Type is application/sdp is
the SDP.
"""

from __future__ import annotations

import logging

from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import anchor_lump, del_lump, insert_after
from kamapy.sip.sdp_body import NATHELPER, extract_sdp

from . import private

log = logging.getLogger("kamapy.nathelper")

STATE = {"nortpproxy": "a=nortpproxy:yes", "oldmediaip": 1}

CRLF = "\r\n"


def extract_body(msg):
    """(start, end) of the SDP in msg.text, trailing CR/LF left out, or None (logged):
    the shared finder in nathelper's flavour (Kamailio's nhelpr_funcs.c extract_body)."""
    found = extract_sdp(msg, NATHELPER)
    return None if found is None else found[:2]


def _is_null(addr: str, v6: bool) -> bool:
    if v6:
        return all(ch in "0:" for ch in addr)
    return addr == "0.0.0.0"


_WS = " \t"


def _find_media_ip(text: str, pos: int, end: int, line: str):
    """The next `line` ("c=", "o=", "a=rtcp") that starts a line in text[pos:end]:
    (match, ip_start, ip_end, is_v6) -- ip_start None when the line names no IP4/IP6
    address -- or None when there is none (Kamailio nh_extract_mediaip)."""
    while True:
        m = text.find(line, pos, end)
        if m < 0:
            return None
        if m > 0 and text[m - 1] in "\r\n":
            break
        pos = m + len(line)
    s = m + len(line)
    e = s
    while e < end and text[e] != "\n":
        e += 1
    while s < e and text[s] in " \t\r\n":
        s += 1
    while e > s and text[e - 1] in " \t\r\n":
        e -= 1
    i = s
    next_is_ip = False
    v6 = False
    while i < e:
        j = i
        while j < e and text[j] not in " \t\r\n":
            j += 1
        if next_is_ip:
            return (m, i, j, v6) if j > i else (m, None, None, False)
        tok = text[i:j]
        if len(tok) == 3 and tok[:2] == "IP" and tok[2] in "46":
            next_is_ip = True
            v6 = tok[2] == "6"
        i = j
        while i < e and text[i] in _WS:
            i += 1
    return m, None, None, False


def _replace_lines(msg, start, end, line, newip, can_omit) -> int:
    text = msg.text
    count = 0
    family = None
    pos = start
    while True:
        found = _find_media_ip(text, pos, end, line)
        if found is None:
            return count
        m, ips, ipe, v6 = found
        if ips is None:
            if can_omit:
                pos = m + len(line)
                continue
            log.error("no `IP[4|6]' in `%s' field", line)
            return -1
        if family is None:
            family = v6
        elif family != v6:
            log.error("mismatching address families in '%s' SDP", line)
            return -1
        old = text[ips:ipe]
        if not _is_null(old, v6) and old != newip:
            if STATE["oldmediaip"]:
                tag = "a=oldmediaip6:" if v6 else "a=oldmediaip:"
                insert_after(anchor_lump(msg, end, "body"), CRLF + tag + old, "body")
            insert_after(del_lump(msg, ips, ipe - ips, "body"), newip, "body")
            count += 1
        pos = ipe


def fix_nated_sdp(msg, flags, ip=None) -> int:
    level = int(flags)
    span = extract_body(msg)
    if span is None:
        log.error("cannot extract body from msg!")
        return -1
    start, end = span
    text = msg.text
    if level & 0x01:
        m = text.find("\r\nm=", start, end)
        while m >= 0:
            nxt = text.find("\r\nm=", m + 4, end)
            at = nxt if nxt >= 0 else end
            insert_after(anchor_lump(msg, at, "body"), CRLF + "a=direction:active", "body")
            m = nxt
    if level & 0x04 and STATE["nortpproxy"]:
        insert_after(anchor_lump(msg, end, "body"), CRLF + STATE["nortpproxy"], "body")
    count = 0
    if level & (0x02 | 0x08):
        newip = ip if ip else msg.rcv.src_ip
        ret = _replace_lines(msg, start, end, "a=rtcp", newip, True)
        if ret < 0:
            return -1
        count += ret
        if level & 0x02:
            ret = _replace_lines(msg, start, end, "c=", newip, False)
            if ret < 0:
                return -1
            count += ret
        if level & 0x08:
            ret = _replace_lines(msg, start, end, "o=", newip, False)
            if ret < 0:
                return -1
            count += ret
    return 1 if count > 0 else 2


# ------------------------------------------------------------------ nat_uac_test 8 / 256

def _sdp(msg):
    try:
        sdp = msg.sdp
        if sdp is None and _is_multipart(msg):
            span = extract_body(msg)
            if span is not None:
                from kamapy.sip.sdp import parse_sdp
                sdp = parse_sdp(msg.text[span[0]:span[1]] + CRLF)
        return sdp
    except SipParseError:
        return None


def _is_multipart(msg) -> bool:
    hf = msg.get_header("content-type")
    return hf is not None and hf.value.strip(" \t\r\n").lower().startswith("multipart/mixed")


def _addr(conn):
    parts = conn.line.value.split(" ")
    return parts[2] if len(parts) > 2 else ""


def sdp_has_private(msg) -> int:
    """Flag 8: a media (or its session) c= address is private; stops at the first
    non-IPv4 or null address (Kamailio sdp_1918)."""
    sdp = _sdp(msg)
    if sdp is None:
        return -1
    for media in sdp.medias:
        conn = media.connection or sdp.connection
        if conn is None or conn.addrtype != "IP4":
            break
        addr = _addr(conn)
        if _is_null(addr, False):
            break
        if private.is1918_text(addr) == 1:
            return 1
    return 0


def sdp_cline_differs(msg) -> int:
    """Flag 256: the session c= address is not the source IP (Kamailio test_sdp_cline:
    only the session-level c= line counts)."""
    sdp = _sdp(msg)
    if sdp is None:
        return -1
    conn = sdp.connection
    if conn is None or not conn.address:
        return 0
    if conn.addrtype not in ("IP4", "IP6"):
        return -1
    addr = private.parse_ip(conn.address)
    if addr is None or addr.version != (6 if conn.addrtype == "IP6" else 4):
        return -1
    src = private.parse_ip(msg.rcv.src_ip)
    return 0 if src == addr else 1
