"""Which part of a message rtpengine gets as "sdp", and how its answer replaces it
(Kamailio rtpengine_funcs.c extract_body / check_content_type, and the del_lump +
insert_new_lump_after of rtpengine_offer_answer).

The replacement is one body lump over exactly the range that was sent, so it composes
with other lumps the way Kamailio's does: a textops or fix_nated_sdp change inside that
range is dropped with it (the overlapped-lump rule), anything outside it stays.
"""

from __future__ import annotations

import logging

from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import del_lump, insert_after

log = logging.getLogger("kamapy.rtpengine")

CT_SDP, CT_MULTIPART, CT_TRICKLE = 1, 2, 3


def content_kind(msg) -> int:
    """1 application/sdp (or no Content-Type), 2 multipart/mixed, 3 trickle-ice-sdpfrag,
    -1 anything else."""
    hf = msg.get_header("content-type")
    if hf is None:
        log.warning("the header Content-TYPE is absent!let's assume the content is "
                    "text/plain ;-)")
        return CT_SDP
    t = hf.value.strip(" \t\r\n")
    low = t.lower()
    if low.startswith("multipart/mixed"):
        return CT_MULTIPART
    if not low.startswith("application"):
        log.error("invalid type for a message")
        return -1
    i = len("application")
    while i < len(t) and t[i] in " \t":
        i += 1
    if i >= len(t) or t[i] != "/":
        log.error("no / found after primary type")
        return -1
    i += 1
    while i < len(t) - 1 and t[i] in " \t":
        i += 1
    if low.startswith("trickle-ice-sdpfrag", i):
        return CT_TRICKLE
    if low[i:i + 3] != "sdp":
        log.error("invalid type for a message")
        return -1
    i += 3
    if i < len(t) and t[i] not in "; \t\r\n\0":
        log.error("bad end for type!")
        return -1
    return CT_SDP


def _boundary(ctype: str) -> str | None:
    low = ctype.lower()
    i = low.find("boundary=")
    if i < 0:
        return None
    v = ctype[i + 9:]
    if v.startswith('"'):
        end = v.find('"', 1)
        return v[1:end] if end > 0 else None
    end = len(v)
    for ch in "; \t\r\n":
        j = v.find(ch)
        if 0 <= j < end:
            end = j
    return v[:end] or None


def _delimiter(text: str, pos: int, end: int, mark: str) -> int:
    while True:
        i = text.find(mark, pos, end)
        if i < 0:
            return -1
        if i == 0 or text[i - 1] in "\r\n":
            return i
        pos = i + len(mark)


def _sdp_part(text: str, start: int, end: int, ctype: str):
    delim = _boundary(ctype)
    if delim is None:
        log.error("failed to get the multipart delimiter")
        return None
    mark = "--" + delim
    p1 = _delimiter(text, start, end, mark)
    if p1 < 0:
        log.error("empty multipart content")
        return None
    while 0 <= p1 < end:
        p2 = _delimiter(text, p1 + len(mark), end, mark)
        if p2 < 0:
            p2 = end
        nl = text.find("\n", p1 + len(mark), p2)
        rest = nl + 1 if nl >= 0 else p2
        is_sdp = False
        while rest < p2:
            nl = text.find("\n", rest, p2)
            line_end = nl + 1 if nl >= 0 else p2
            line = text[rest:line_end].rstrip("\r\n")
            rest = line_end
            if not line:
                break
            name, colon, value = line.partition(":")
            if colon and name.strip().lower() in ("content-type", "c"):
                main = value.strip().lower().split(";", 1)[0].replace(" ", "")
                if main == "application/sdp":
                    is_sdp = True
        if is_sdp:
            if rest < p2 and text[rest] == "\r":
                rest += 1
            if rest < p2 and text[rest] == "\n":
                rest += 1
            if rest < p2 and text[p2 - 1] == "\n":
                p2 -= 1
            if rest < p2 and text[p2 - 1] == "\r":
                p2 -= 1
            return rest, p2
        p1 = p2
    log.error("no SDP part in the multipart body")
    return None


def extract(msg):
    """(start, end, kind): the SDP's offsets in msg.text, or None (logged)."""
    try:
        _ = msg.eoh
        start = msg.body_start
        clen = msg.content_length
    except SipParseError:
        log.error("failed to get the message body")
        return None
    if start < 0 or clen is None:
        log.error("failed to get the content length in message")
        return None
    if clen == 0:
        log.error("message body has length zero")
        return None
    if start + clen > len(msg.text):
        log.error("content-length exceeds packet-length by %d", start + clen - len(msg.text))
        return None
    kind = content_kind(msg)
    if kind == -1:
        log.error("content type mismatching")
        return None
    end = start + clen
    if kind == CT_MULTIPART:
        part = _sdp_part(msg.text, start, end, msg.get_header("content-type").value)
        if part is None:
            return None
        start, end = part
    return start, end, kind


def has_sdp(msg) -> bool:
    """Kamailio's parse_sdp() == 0: an SDP body (or SDP part) is there and parses. A
    plain application/sdp body is msg.sdp, parsed once per message and shared with
    nathelper (nat_uac_test 8 in the same route has usually parsed it already)."""
    from kamapy.sip.sdp import parse_sdp
    try:
        _ = msg.eoh
        if msg.body_start < 0 or not msg.content_length:
            return False
        hf = msg.get_header("content-type")
        if hf is None:
            return False
        low = hf.value.strip().lower()
        if low.startswith("multipart/mixed"):
            span = _sdp_part(msg.text, msg.body_start, msg.body_start + msg.content_length,
                             hf.value)
            if span is None:
                return False
            parse_sdp(msg.text[span[0]:span[1]])
            return True
        if low.split(";", 1)[0].replace(" ", "") != "application/sdp":
            return False
        return msg.sdp is not None
    except SipParseError:
        return False


def replace(msg, start: int, end: int, text: str):
    """Replace msg.text[start:end] by text (the rtpengine answer)."""
    anchor = del_lump(msg, start, end - start, "body")
    insert_after(anchor, text, "body")


def replace_whole_body(msg, text: str):
    """read_sdp_pv mode: the SDP came from a variable; the whole body is replaced."""
    _ = msg.eoh
    start = msg.body_start
    anchor = del_lump(msg, start, len(msg.text) - start, "body")
    insert_after(anchor, text, "body")
