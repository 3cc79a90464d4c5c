"""REFERENCE ONLY (tests): the pure-Python stateless reply builder and sl To-tag as it was before the C scanner
(kamapy/_native/kp_sipscan.c). tests/sip/test_sipscan.py checks that the fast path gives
the same results and the same errors on any input. Do not import from kamapy."""

from __future__ import annotations

import hashlib
from binascii import crc_hqx

from kamapy.sip.wire import to_wire
from tests.sip.reference.msg import SipMsg

SERVER_HEADER = "Server: kamapy (0.1.0 (x86_64/linux))"
CRLF = "\r\n"


def build_reply(msg: SipMsg, code: int, reason: str, to_tag: str | None = None,
                headers: str = "", body: str | bytes = "", server_header: str = SERVER_HEADER,
                force_rport: bool = False) -> bytes:
    """The bytes of a reply to the request msg. Raises SipParseError when the request
    lacks what a reply needs (Via, and a parseable To when a tag must be added)."""
    text = msg.text
    msg._build_index()
    keys = msg._keys
    hfs = msg._hf
    nl = msg._nl
    starts = msg._starts
    via1 = msg.via1
    rcv = msg.rcv
    out = [msg.version, " ", str(code), " ", reason, CRLF]
    with_rr = 180 <= code < 300
    step = len(msg._nl)
    first_via = True
    for i, key in enumerate(keys):
        if key == "via":
            hf = hfs.get(i)
            start = starts[i]
            line_end = hf.end if hf is not None else text.find(nl, start)
            while text[line_end - 1] in " \t\r\n":
                line_end -= 1
            if first_via:
                first_via = False
                out.append(_top_via(text, start, line_end, via1, rcv, force_rport))
            else:
                out.append(text[start:line_end])
            out.append(CRLF)
        elif key == "from" or key == "call-id" or key == "cseq" or (key == "record-route" and with_rr):
            hf = hfs.get(i)
            start = starts[i]
            out.append(text[start:hf.end] if hf is not None else text[start:text.find(nl, start) + step])
        elif key == "to":
            hf = msg._hf_at(i)
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

# CRC-16/X-25 (reflected CCITT) computed with binascii.crc_hqx (the unreflected CCITT,
# in C): reflect every input byte, run crc_hqx from 0xFFFF, reflect and invert the result.
_REFLECT = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def crc16_ccitt(parts) -> int:
    """CRC-16 (reflected CCITT, init 0xFFFF, inverted) over the strings in parts,
    as Kamailio's crcitt_string_array computes it."""
    data = "".join(parts).encode("latin-1", "replace").translate(_REFLECT)
    crc = crc_hqx(data, 0xFFFF)
    return ~((_REFLECT[crc & 0xFF] << 8) | _REFLECT[crc >> 8]) & 0xFFFF


def reverse_hex(n: int, width: int = 0) -> str:
    """Kamailio's int2reverse_hex: hex digits low nibble first ("0" for 0), padded with
    '0' to width when width is given (as crcitt_string_array pads)."""
    out = []
    while n:
        out.append("0123456789abcdef"[n & 0xF])
        n >>= 4
    s = "".join(out) or "0"
    return s.ljust(width, "0") if width else s


class _TagPrefix:
    value = None


def init_sl_tags(address: str = "", port: str = "", signature: str = "KAMAILIO-stateless") -> str:
    """Fix the per-process To-tag prefix: MD5 of signature + first listen address + port
    (Kamailio's init_tags), followed by the '.' separator. Returns the prefix."""
    digest = hashlib.md5((signature + address + str(port)).encode("latin-1")).hexdigest()
    _TagPrefix.value = digest + "."
    return _TagPrefix.value


def sl_to_tag(msg: SipMsg) -> str:
    """The To-tag sl puts on a stateless reply to msg (stable across retransmissions)."""
    prefix = _TagPrefix.value or init_sl_tags()
    via1 = msg.via1
    branch = via1.branch
    first = [via1.host, via1.port_str] + ([branch] if branch is not None else [])
    second = [via1.port_str, via1.host, msg.callid]
    return prefix + reverse_hex(crc16_ccitt(first), 4) + reverse_hex(crc16_ccitt(second), 4)


def is_sl_to_tag(msg: SipMsg, tag: str | None) -> bool:
    """Whether tag is the one sl_to_tag gives for msg (sl's filtering of ACKs to its replies)."""
    return bool(tag) and tag == sl_to_tag(msg)
