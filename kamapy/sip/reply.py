"""Stateless replies built from a request (RFC 3261 §8.2.6), as Kamailio's
build_res_buf_from_sip_req (core/msg_translator.c) builds them for sl and tm:

  - status line with the request's SIP version;
  - headers copied in received order: every Via, From, To, Call-ID, CSeq, and
    Record-Route only for 180..299 replies;
  - the top Via gets ;rport=<src port> when it had rport (RFC 3581) or force_rport,
    and ;received=<src ip> when it had received or rport or its host is not the
    source IP (Kamailio's received_test). The new rport replaces the old one in
    place, else goes at the end of the Via header; received goes at the very end
    (after any further vias on that line: what Kamailio 5.6 sends, checked by
    tests/wire/test_sl_vs_kamailio.py);
  - a To-tag when one is given, the code is >= 180 and the To has none (sl_reply_helper);
  - the extra header lines (append_to_reply), the Server header, Content-Length, body
    (a str body is encoded as latin-1, or UTF-8 when it holds other characters).

Also the To-tag sl uses: a per-process prefix (MD5 of a signature and the first listen
address) and a CRC-16 suffix over top Via and Call-ID, so a retransmitted request gets
the same tag (Kamailio: core/tags.h calc_crc_suffix, modules/sl/sl_funcs.c).
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import sys
from _thread import get_ident as _get_ident

from kamapy import __version__
from kamapy._native import fastcall
from kamapy._native._kamapy_native import ffi, lib

from . import sipscan as _ss
from .errors import SipParseError
from .msg import SipMsg
from .wire import to_wire

_log = logging.getLogger("kamapy.net")

SERVER_HEADER = f"Server: kamapy ({__version__} ({platform.machine()}/{sys.platform}))"
CRLF = "\r\n"


def build_reply(msg: SipMsg, code: int, reason: str, to_tag: str | None = None,
                headers: str = "", body: str | bytes = "", server_header: str = SERVER_HEADER,
                force_rport: bool = False) -> bytes:
    """The bytes of a reply to the request msg. Raises SipParseError when the request
    lacks what a reply needs (Via, and a parseable To when a tag must be added)."""
    sc = msg._sc
    if sc is not None and sc[_STOP] == _STOP_END and sc[_SEG_N] >= 0 and sc[_V_OK]:
        data = _reply_from_plan(msg, sc, code, reason, to_tag, headers, body, server_header, force_rport)
        if data is not None:
            return data
    return _build_in_python(msg, code, reason, to_tag, headers, body, server_header, force_rport)


def _build_in_python(msg, code, reason, to_tag, headers, body, server_header, force_rport) -> bytes:
    """build_reply() for what the C plan does not cover (folded or unusual headers, a
    To the scan did not parse, text that is not latin-1); also the reference the C
    path is tested against."""
    msg._finish()  # the whole header block must be readable
    sc = msg._sc
    out = [msg.version, " ", str(code), " ", reason, CRLF]
    if sc is not None:
        _copy_headers_scanned(out, msg, sc, code, to_tag, force_rport)
    else:
        _copy_headers(out, msg, code, to_tag, force_rport)
    if headers:
        out.append(headers)
    if server_header:
        out.append(server_header)
        out.append(CRLF)
    if not body:
        out.append("Content-Length: 0\r\n\r\n")
        return "".join(out).encode("latin-1")
    if isinstance(body, str):
        body = to_wire(body)
    out.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "".join(out).encode("latin-1") + body


_COPIED = frozenset((_ss.H_FROM, _ss.H_CALLID, _ss.H_CSEQ))
_REPLY_IDS = frozenset((_ss.H_VIA, _ss.H_FROM, _ss.H_TO, _ss.H_CALLID, _ss.H_CSEQ, _ss.H_RECORD_ROUTE))


_SEG_N = _ss.SEG_N
_TO_OK = _ss.TO_OK
_V_OK = _ss.V_OK
_V_RPORT = _ss.V_RPORT
_V_PORT = _ss.V_PORT


_sip_reply = lib.kp_sip_reply
_SR_ECAP = lib.KP_SR_ECAP
_STOP = _ss.STOP
_STOP_END = _ss.STOP_END
_BADMIN = _ss.BADMIN
_NHDR = _ss.NHDR
_NO_STR = ffi.NULL
_rcap = 16384
_rbuf = ffi.new("char[]", _rcap)  # one per process, reused: the result is copied out
_OWNER = _get_ident()


def _encoded(reason: str, headers: str, server_header: str, body):
    """(reason, headers, server header, body) as bytes for the C builders, or None when
    a string is not latin-1 (the Python path then fails as it always did)."""
    try:
        r = reason.encode("latin-1")
        h = headers.encode("latin-1") if headers else b""
        s = server_header.encode("latin-1") if server_header else b""
    except UnicodeEncodeError:
        return None
    if body.__class__ is not bytes:
        body = (to_wire(body) if body.__class__ is str else bytes(body)) if body else b""
    return r, h, s, body


def _need(args) -> int:
    """A buffer size that surely fits what fn(*args) writes: every bytes argument (the
    request, the reason, the headers, the body...) and 4 KB for what the reply adds."""
    return sum(len(a) for a in args if a.__class__ is bytes) + 4096


def _call_buffered(fn, args) -> tuple[int, object]:
    """fn(*args, buf, cap) into this process' reply buffer, grown and called again when
    the C side says it is too small. (n, buf)."""
    if _get_ident() != _OWNER:  # another thread: the buffer is the main thread's
        need = _need(args)
        buf = ffi.new("char[]", need)
        return fn(*args, buf, need), buf
    n = fn(*args, _rbuf, _rcap)
    if n == _SR_ECAP:
        n = _grown_call(fn, args)
    return n, _rbuf


def _grown_call(fn, args) -> int:
    """fn(*args, buf, cap) again after fn said this process' buffer is too small: the
    buffer grown to what surely fits."""
    global _rcap, _rbuf
    _rcap = max(2 * _rcap, _need(args))
    _rbuf = ffi.new("char[]", _rcap)
    return fn(*args, _rbuf, _rcap)


def _reply_from_plan(msg, sc, code, reason, to_tag, headers, body, server_header, force_rport):
    """build_reply() by kp_sip_reply (kp_sipreply.c) from the scan's reply plan: one C
    call. None when the C side leaves it to Python (see kp_sipreply.h) or a string is
    not latin-1, or a header line parse_headers refuses (Python raises it)."""
    scan = sc.obj
    if scan.__class__ is not bytes or (sc[_BADMIN] != sc[_NHDR] and msg._bad_line()):
        return None
    enc = _encoded(reason, headers, server_header, body)
    if enc is None:
        return None
    r, h, s, body = enc
    try:
        t = to_tag.encode("latin-1") if to_tag else _NO_STR
    except UnicodeEncodeError:
        return None
    tl = len(t) if to_tag else 0
    rcv = msg.rcv
    ip = rcv.src_ip.encode("ascii", "replace")
    data = msg.data
    args = (data, len(data), scan, code, r, len(r), t, tl, ip, len(ip), rcv.src_port, force_rport,
            h, len(h), s, len(s), body, len(body))
    n, buf = _call_buffered(_sip_reply, args)
    return ffi.unpack(buf, n) if n >= 0 else None


_sl_reply_send = fastcall.sl_reply_send  # kp_sl_reply_send
# the last Server line send_sl_reply encoded and its bytes (rt.server_header: one per
# config), one tuple so another thread never reads one half of an update
_server_last = (None, b"")
_SR_ESEND = lib.KP_SR_ESEND


def _remember_server(server_header: str, encoded: bytes):
    global _server_last
    _server_last = (server_header, encoded)


def send_sl_reply(msg, code: int, reason: str, headers: str, body, server_header: str,
                  force_rport: bool):
    """sl's reply to msg built and sent in one C call (kp_sl_reply_send): the sl To-tag
    when one is due, build_reply(), reply_destination() and the sendto on the socket
    the request came in on. True: sent; False: sendto failed (logged); None: not a case
    for the C path -- do it step by step."""
    sc = msg._sc
    rcv = msg.rcv
    si = rcv.sock
    if sc is None or si is None or rcv.proto != 1 or si.sock is None:
        return None
    if sc[_BADMIN] != sc[_NHDR] and msg._bad_line():
        return None  # a header line parse_headers refuses: build_reply raises it
    scan = sc.obj
    if scan.__class__ is not bytes:
        return None
    # _encoded(), inlined for the usual strings: no body, the Server line as last time
    last = _server_last
    if body or server_header is not last[0]:
        enc = _encoded(reason, headers, server_header, body)
        if enc is None:
            return None
        r, h, s, body = enc
        _remember_server(server_header, s)
    else:
        # the strs as they are: kp_fastcall.c reads an ASCII str's bytes in place, and
        # hands any other text back (KP_SR_FALLBACK) to be encoded by the Python path
        r = reason
        h = headers or ""
        s = last[1]
        body = b""
    prefix = _TagPrefix.bytes or _init_prefix_bytes()
    # one C call (kp_fastcall.c: the arguments read straight, its own reply buffer)
    n = _sl_reply_send(si.sock.fileno(), rcv.af, msg.data, scan, code, r, prefix,
                       rcv.src_ip, rcv.src_port, force_rport, h, s, body)
    if n >= 0:
        return True
    if n <= _SR_ESEND:
        _log.error("sendto %s:%d failed: %s", rcv.src_ip, rcv.src_port, os.strerror(_SR_ESEND - n))
        return False
    return None


def _copy_headers_scanned(out, msg, sc, code, to_tag, force_rport):
    """The copied header lines, read from the C scan's line index (the usual case)."""
    text = msg.text
    hdr = _ss.HDR
    hrec = _ss.HREC
    n = sc[_ss.NHDR]
    first_via = sc[_ss.FIRST + _ss.H_VIA]
    if not sc[_ss.V_OK]:
        msg.via1  # noqa: B018 -- raises as the Python parser does (before any To error)
    elif first_via < 0:
        raise SipParseError("no Via header")
    first_to = sc[_ss.FIRST + _ss.H_TO]
    with_rr = 180 <= code < 300
    for i, kid in enumerate(sc[hdr:hdr + hrec * n:hrec]):
        if kid not in _REPLY_IDS:
            continue
        r = hdr + hrec * i
        start = sc[r + 1]
        end = sc[r + 5]
        if kid == 1:  # via
            line_end = end
            while text[line_end - 1] in " \t\r\n":
                line_end -= 1
            if i == first_via:
                if sc[_ss.V_OK]:
                    out.append(_top_via_scanned(text, start, line_end, sc, msg.rcv, force_rport))
                else:
                    out.append(_top_via(text, start, line_end, msg.via1, msg.rcv, force_rport))
            else:
                out.append(text[start:line_end])
            out.append(CRLF)
        elif kid in _COPIED or (with_rr and kid == _ss.H_RECORD_ROUTE):
            out.append(text[start:end])
        elif kid == 3:  # to
            if to_tag and code >= 180 and i == first_to and (
                    _ss.scan_to_tag(text, sc) if sc[_ss.TO_OK] else msg.to_hdr.tag) is None:
                body_end = end
                while text[body_end - 1] in " \t\r\n":
                    body_end -= 1
                out.append(text[start:body_end])
                out.append(";tag=")
                out.append(to_tag)
                out.append(text[body_end:end])
            else:
                out.append(text[start:end])


def _copy_headers(out, msg, code, to_tag, force_rport):
    """The copied header lines of a message re-indexed in Python (folded headers)."""
    text = msg.text
    via1 = msg.via1
    rcv = msg.rcv
    hfs = msg._hf
    with_rr = 180 <= code < 300
    first_via = True
    for i, key in enumerate(msg._keys):
        hf = hfs[i]
        if key == "via":
            line_end = hf.end
            while text[line_end - 1] in " \t\r\n":
                line_end -= 1
            if first_via:
                first_via = False
                out.append(_top_via(text, hf.start, line_end, via1, rcv, force_rport))
            else:
                out.append(text[hf.start:line_end])
            out.append(CRLF)
        elif key == "from" or key == "call-id" or key == "cseq" or (key == "record-route" and with_rr):
            out.append(text[hf.start:hf.end])
        elif key == "to":
            if to_tag and code >= 180 and hf is msg._first("to") and msg.to_hdr.tag is None:
                body_end = hf.end
                while text[body_end - 1] in " \t\r\n":
                    body_end -= 1
                out.append(text[hf.start:body_end])
                out.append(";tag=")
                out.append(to_tag)
                out.append(text[body_end:hf.end])
            else:
                out.append(text[hf.start:hf.end])


def _top_via_scanned(text, start, line_end, sc, rcv, force_rport) -> str:
    """_top_via with the top Via read from the scan (no Via object needed)."""
    src_ip = rcv.src_ip
    ri = sc[_ss.V_RPORT]
    if ri >= 0:  # the old rport replaced in place
        k = _ss.V_P + 4 * ri
        out = text[start:sc[k] - 1] + ";rport=" + str(rcv.src_port) + text[sc[k + 3]:line_end]
    elif force_rport:
        out = text[start:line_end] + ";rport=" + str(rcv.src_port)
    else:
        out = text[start:line_end]
    if sc[_ss.V_RECEIVED] >= 0 or ri >= 0 or not same_host(text[sc[_ss.V_H0]:sc[_ss.V_H1]], src_ip):
        out += ";received=" + src_ip
    return out


def _top_via(text, start, line_end, via1, rcv, force_rport) -> str:
    """The top Via header (without CRLF) as Kamailio's build_res_buf_from_sip_req
    copies it: an rport parameter replaced in place by ;rport=<source port>; without
    one, force_rport appends ;rport=<port> at the end of the header (after any further
    vias on its line); ;received=<source IP> appended at the very end when the Via had
    received or rport, or its host is not the source IP (received_test)."""
    src_ip = rcv.src_ip
    rport = via1.rport
    if rport is not None:
        ps, pe = via1.param_span("rport")
        out = text[start:ps - 1] + ";rport=" + str(rcv.src_port) + text[pe:line_end]
    elif force_rport:
        out = text[start:line_end] + ";rport=" + str(rcv.src_port)
    else:
        out = text[start:line_end]
    if via1.received is not None or rport is not None or not same_host(via1.host, src_ip):
        out += ";received=" + src_ip
    return out


def same_host(host: str, ip: str) -> bool:
    """Kamailio's check_via_address without DNS: the Via host is the source IP
    (IPv6 compared case-insensitively, with or without [brackets])."""
    if host == ip:
        return True
    if ":" in ip:
        h = host[1:-1] if host[:1] == "[" else host
        return h.lower() == ip.lower()
    return False


# ------------------------------------------------------------------ sl To-tag

def crc16_ccitt(parts) -> int:
    """CRC-16 (reflected CCITT, init 0xFFFF, inverted) over the strings in parts,
    as Kamailio's crcitt_string_array computes it."""
    return _ss.crc16("".join(parts).encode("latin-1", "replace"))


def reverse_hex(n: int, width: int = 0) -> str:
    """Kamailio's int2reverse_hex: hex digits low nibble first ("0" for 0), padded with
    '0' to width when width is given (as crcitt_string_array pads)."""
    s = format(n, "x")[::-1] if n > 0 else "0"  # the hex digits, lowest first
    return s.ljust(width, "0") if width else s


class _TagPrefix:
    value = None
    bytes = None


def init_sl_tags(address: str = "", port: str = "", signature: str = "KAMAILIO-stateless") -> str:
    """Fix the per-process To-tag prefix: MD5 of signature + first listen address + port
    (Kamailio's init_tags), followed by the '.' separator. Returns the prefix."""
    digest = hashlib.md5((signature + address + str(port)).encode("latin-1")).hexdigest()
    _TagPrefix.value = digest + "."
    _TagPrefix.bytes = _TagPrefix.value.encode("latin-1")
    return _TagPrefix.value


def _init_prefix_bytes() -> bytes:
    _TagPrefix.bytes = (_TagPrefix.value or init_sl_tags()).encode("latin-1")
    return _TagPrefix.bytes


# reverse_hex(n, 4) of a 16-bit n is its 4 nibbles low first: two bytes from this table
_REV_BYTE = tuple("0123456789abcdef"[b & 0xF] + "0123456789abcdef"[b >> 4] for b in range(256))


def sl_to_tag(msg: SipMsg) -> str:
    """The To-tag sl puts on a stateless reply to msg (stable across retransmissions)."""
    prefix = _TagPrefix.value or init_sl_tags()
    sc = msg._sc
    if sc is not None and sc[_ss.CRC_OK]:  # both CRCs computed by the scan
        c1 = sc[_ss.CRC1]
        c2 = sc[_ss.CRC2]
        rb = _REV_BYTE
        return prefix + rb[c1 & 0xFF] + rb[c1 >> 8] + rb[c2 & 0xFF] + rb[c2 >> 8]
    via1 = msg.via1
    branch = via1.branch
    first = [via1.host, via1.port_str] + ([branch] if branch is not None else [])
    second = [via1.port_str, via1.host, msg.callid]
    return prefix + reverse_hex(crc16_ccitt(first), 4) + reverse_hex(crc16_ccitt(second), 4)


class _TmTagPrefix:
    value = None


def init_tm_tags(address: str = "", port: str = "") -> str:
    """tm's own To-tag prefix (Kamailio's tm signs with "SER-TM/tags" and the '-'
    separator, sl with "KAMAILIO-stateless" and '.'), so that sl's ACK filter never
    takes the ACK to one of tm's local replies for its own."""
    digest = hashlib.md5(("SER-TM/tags" + address + str(port)).encode("latin-1")).hexdigest()
    _TmTagPrefix.value = digest + "-"
    return _TmTagPrefix.value


def tm_to_tag(msg: SipMsg) -> str:
    """The To-tag tm puts on its local replies to msg: tm's prefix, then the same
    message-dependent suffix sl uses."""
    prefix = _TmTagPrefix.value or init_tm_tags()
    return prefix + sl_to_tag(msg)[len(_TagPrefix.value):]


def is_sl_to_tag(msg: SipMsg, tag: str | None) -> bool:
    """Whether tag is the one sl_to_tag gives for msg (sl's filtering of ACKs to its replies).
    sl's tags are the prefix and 8 hex digits: another tag -- the callee's on every ACK to
    a relayed 2xx -- is told apart without computing msg's (Kamailio's sl_filter_ACK also
    compares the length first)."""
    if not tag:
        return False
    prefix = _TagPrefix.value or init_sl_tags()
    if len(tag) != len(prefix) + 8 or not tag.startswith(prefix):
        return False
    return tag == sl_to_tag(msg)


def request_to_tag(msg: SipMsg) -> str | None:
    """msg.to_hdr.tag, read from the scan when it parsed the To (no NameAddr made)."""
    sc = msg._sc
    if sc is not None and sc[_ss.TO_OK]:
        return _ss.scan_to_tag(msg.text, sc)
    return msg.to_hdr.tag


def reply_destination(msg: SipMsg, force_rport: bool) -> tuple[str, int]:
    """Where a locally generated reply to msg goes (Kamailio's sl: the source IP; the
    source port with rport or force_rport, else the Via's port, 5060 when none), read
    from the scan when it parsed the top Via. kamapy.net.send.reply_destination wraps it."""
    sc = msg._sc
    rcv = msg.rcv
    if sc is not None and sc[_V_OK]:
        if sc[_V_RPORT] >= 0 or force_rport:
            return rcv.src_ip, rcv.src_port
        port = sc[_V_PORT]
        return rcv.src_ip, port if port > 0 else 5060
    via = msg.via1
    if via.rport is not None or force_rport:
        return rcv.src_ip, rcv.src_port
    return rcv.src_ip, via.port or 5060
