"""Where a message's SDP is: the whole body, or the application/sdp part of a
multipart/mixed body. One finder for nathelper, rtpproxy and rtpengine (Kamailio: the
core's parser/sdp/sdp_helpr_funcs.c get_mixed_part_delimiter / find_sdp_line_delimiter,
and the extract_body + check_content_type each of those modules carries).

The modules differ in two details, kept as Kamailio has them (`flavour`):

- "nathelper" (nathelper and rtpproxy): every trailing CR/LF of the SDP is left out;
  an SDP that is nothing else is an error ("empty body");
- "rtpengine": application/trickle-ice-sdpfrag is an SDP too (CT_TRICKLE), and of a
  multipart part one leading and one trailing CRLF are left out, nothing else.
"""

from __future__ import annotations

import logging

from .errors import SipParseError

log = logging.getLogger("kamapy.sdp")

CT_SDP, CT_MULTIPART, CT_TRICKLE = 1, 2, 3
NATHELPER, RTPENGINE = "nathelper", "rtpengine"


def content_kind(msg, trickle: bool = False) -> int:
    """Kamailio's check_content_type: CT_SDP for application/sdp (and for no
    Content-Type: assumed text), CT_MULTIPART for multipart/mixed, CT_TRICKLE for
    application/trickle-ice-sdpfrag when `trickle` (rtpengine's), -1 anything else."""
    hf = msg.get_header("content-type")
    if hf is None:
        log.warning("the header Content-TYPE is absent!let's assume the content is text/plain ;-)")
        return CT_SDP
    t = hf.value.strip(" \t\r\n")
    low = t.lower()
    if len(t) >= 15 and low.startswith("multipart/mixed"):
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
    if low[i:i + 3] != "sdp":
        if trickle and low.startswith("trickle-ice-sdpfrag", i):
            return CT_TRICKLE
        log.error("invalid type for a message")
        return -1
    i += 3
    if i < len(t) and t[i] not in "; \t\r\n\0":
        log.error("bad end for type!")
        return -1
    return CT_SDP


def mixed_part_delimiter(ctype: str) -> str | None:
    """The boundary of a multipart Content-Type value (Kamailio's
    get_mixed_part_delimiter): `boundary` must be the first parameter, and its value is
    the rest of the header, one pair of matching quotes removed."""
    semi = ctype.find(";")
    if semi < 0:
        return None
    rest = ctype[semi + 1:].lstrip(" \t")
    if rest[:8].lower() != "boundary":
        return None
    rest = rest[8:].lstrip(" \t")
    if rest[:1] != "=":
        log.error("parse error: no = found after boundary field")
        return None
    value = rest[1:]
    while len(value) > 1 and value[0] in " \t":
        value = value[1:]
    if value[:1] in ("\"", "'"):
        if len(value) < 3 or value[-1] != value[0]:
            log.error("missing closing quote in boundary field value")
            return None
        value = value[1:-1]
    return value or None


def find_delimiter(text: str, pos: int, end: int, delim: str) -> int:
    """The next "--<delim>" in text[pos:end] that starts a line, or -1 (Kamailio's
    find_sdp_line_delimiter: after a "--" that is not followed by delim the search goes on
    len(delim) + 2 further, and a delimiter that reaches `end` is not one)."""
    n = len(delim)
    cp = pos
    while True:
        if cp >= end:
            return -1
        while True:
            i = text.find("--", cp, end)
            if i < 0 or i + 2 + n >= end:
                return -1
            if text.startswith(delim, i + 2):
                break
            cp = i + 2 + n
        if text[i - 1] in "\r\n":
            return i
        if end - i < 2 + n:
            return -1
        cp = i + 2 + n


def _part_is_sdp(value: str) -> bool:
    main = value.strip().lower().split(";", 1)[0].replace(" ", "").replace("\t", "")
    return main == "application/sdp"


def sdp_part(text: str, start: int, end: int, ctype: str, trim_crlf: bool = False):
    """(start, end) of the first part of the multipart body text[start:end] whose
    Content-Type (or "c") is application/sdp, or None (logged). With trim_crlf (rtpengine)
    one CRLF after the part's headers and one before the next delimiter are left out."""
    delim = mixed_part_delimiter(ctype.strip())
    if delim is None:
        log.error("failed to get the multipart delimiter")
        return None
    skip = len(delim) + 2
    p1 = find_delimiter(text, start, end, delim)
    if p1 < 0:
        log.error("empty multipart content")
        return None
    while 0 <= p1 < end:
        p2 = find_delimiter(text, p1 + 2, end, delim) if end - p1 >= 3 else -1
        if p2 < 0:
            p2 = end
        nl = text.find("\n", p1 + skip, p2)
        rest = nl + 1 if nl >= 0 else p2
        found = False
        while rest < p2:
            nl = text.find("\n", rest, p2)
            line_end = nl + 1 if nl >= 0 else p2
            line = text[rest:line_end].rstrip("\r\n")
            rest = line_end
            if not line:
                break
            name, colon, value = line.partition(":")
            if colon and name.strip().lower() in ("content-type", "c") and _part_is_sdp(value):
                found = True
        if found:
            if trim_crlf:
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


def extract_sdp(msg, flavour: str = NATHELPER):
    """(start, end, kind): where the SDP is in msg.text and which content type carried it
    (CT_SDP, CT_MULTIPART, CT_TRICKLE), or None (logged); Kamailio's extract_body of
    nathelper/rtpproxy or of rtpengine (`flavour`)."""
    rtpengine = flavour == RTPENGINE
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
    text = msg.text
    if start + clen > len(text):
        log.error("content-length exceeds packet-length by %d", start + clen - len(text))
        return None
    kind = content_kind(msg, trickle=rtpengine)
    if kind == -1:
        log.error("content type mismatching")
        return None
    end = start + clen
    if kind == CT_MULTIPART:
        part = sdp_part(text, start, end, msg.get_header("content-type").value, trim_crlf=rtpengine)
        if part is None:
            return None
        start, end = part
    if not rtpengine:
        while end > start and text[end - 1] in "\r\n":
            end -= 1
        if end == start:
            log.error("empty body")
            return None
    return start, end, kind


def has_sdp(msg) -> bool:
    """Kamailio's parse_sdp() == 0: an SDP body (or multipart SDP part) is there and
    parses. A plain application/sdp body is msg.sdp, parsed once per message and shared
    by the modules (nat_uac_test 8 in the same route has usually parsed it already)."""
    from .sdp import parse_sdp
    try:
        _ = msg.eoh
        if msg.body_start < 0 or not msg.content_length:
            return False
        hf = msg.get_header("content-type")
        if hf is None:
            return False
        low = hf.value.strip().lower()
        if low.startswith("multipart/mixed"):
            start = msg.body_start
            span = sdp_part(msg.text, start, start + msg.content_length, hf.value, trim_crlf=True)
            if span is None:
                return False
            parse_sdp(msg.text[span[0]:span[1]])
            return True
        if low.split(";", 1)[0].replace(" ", "") != "application/sdp":
            return False
        return msg.sdp is not None
    except SipParseError:
        return False
