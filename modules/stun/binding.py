"""The answer to one STUN message (RFC 5389, and RFC 3489 for clients without the
magic cookie), as Kamailio's stun module gives it (kam_stun.c, checked on the wire
against Kamailio 5.6.3 in tests/modules/stun).

- Shorter than the 20-byte header: no answer (nothing to take a transaction ID from).
- A type other than Binding request (0x0001; 0x0011 a Binding indication, ...): a 600
  Global Failure error response; the body is not read.
- The header's length not the bytes after the header, an attribute header or value
  cut short, FINGERPRINT not last: 400 Bad Request.
- A comprehension-required attribute (type <= 0x7fff) kamapy does not know: 420
  Unknown Attribute with UNKNOWN-ATTRIBUTES listing them; optional ones are skipped.
- Otherwise a Binding success response: XOR-MAPPED-ADDRESS of the source with the
  magic cookie, MAPPED-ADDRESS (not XOR-ed) without it (an RFC 3489 client).
- With the cookie every answer ends in a SOFTWARE attribute; without it none.

No authentication: USERNAME and MESSAGE-INTEGRITY are skipped unchecked, as Kamailio
does (the module answers keep-alives on the SIP port, it is not a STUN server).
"""

from __future__ import annotations

import socket
import struct

MAGIC_COOKIE = b"\x21\x12\xa4\x42"
HEADER_LEN = 20

BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111

MAPPED_ADDRESS = 0x0001
USERNAME = 0x0006
MESSAGE_INTEGRITY = 0x0008
ERROR_CODE = 0x0009
UNKNOWN_ATTRIBUTES = 0x000A
XOR_MAPPED_ADDRESS = 0x0020
SOFTWARE = 0x8022
FINGERPRINT = 0x8028

BAD_REQUEST = 400
UNKNOWN_ATTRIBUTE = 420
GLOBAL_FAILURE = 600
REASONS = {BAD_REQUEST: b"Bad Request", UNKNOWN_ATTRIBUTE: b"Unknown Attribute",
           GLOBAL_FAILURE: b"Global Failure"}

# how far past an attribute's header the next one starts, by type (Kamailio's
# reading: the text attributes padded to 4, MESSAGE-INTEGRITY to 64, FINGERPRINT
# as 20 bytes; the address-like ones of RFC 3489/5389 as their length says)
_AS_IS = frozenset((0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x000B,
                    0x0014, 0x0015, 0x0020, 0x8023))
_PAD4 = frozenset((USERNAME, ERROR_CODE, UNKNOWN_ATTRIBUTES, SOFTWARE))
_FINGERPRINT_SPAN = 20
COMPREHENSION_REQUIRED_MAX = 0x7FFF

_hdr = struct.Struct("!HH")


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def read_body(body: bytes) -> tuple[int, list[bytes]]:
    """(error code or 0, the unknown comprehension-required attribute types as sent)."""
    unknown: list[bytes] = []
    pos, end = 0, len(body)
    while pos < end:
        if end - pos < 4:
            return BAD_REQUEST, unknown
        atype, alen = _hdr.unpack_from(body, pos)
        pos += 4
        left = end - pos
        if left < alen:
            return BAD_REQUEST, unknown
        if atype in _AS_IS:
            span = alen
        elif atype in _PAD4:
            span = _pad4(alen)
        elif atype == MESSAGE_INTEGRITY:
            span = (alen + 63) & ~63
        elif atype == FINGERPRINT:
            if left > _FINGERPRINT_SPAN:
                return BAD_REQUEST, unknown  # FINGERPRINT must be the last attribute
            span = _FINGERPRINT_SPAN
        else:
            if atype <= COMPREHENSION_REQUIRED_MAX:
                unknown.append(body[pos - 4:pos - 2])
            span = alen
        if left < span:
            break  # the padding runs past the end: what was read stands
        pos += span
    return (UNKNOWN_ATTRIBUTE if unknown else 0), unknown


def _attr(atype: int, value: bytes) -> bytes:
    """type, length, value, padded to 4 with zeros (the length without the padding)."""
    return _hdr.pack(atype, len(value)) + value + b"\0" * (_pad4(len(value)) - len(value))


def address_attr(ip: str, port: int, tid: bytes, xor: bool) -> bytes:
    """MAPPED-ADDRESS, or XOR-MAPPED-ADDRESS XOR-ed with the cookie and transaction ID
    (RFC 5389 §15.2: the port with the cookie's top 16 bits, IPv4 with the cookie,
    IPv6 with cookie + transaction ID)."""
    v6 = ":" in ip
    addr = socket.inet_pton(socket.AF_INET6 if v6 else socket.AF_INET, ip)
    if xor:
        port ^= 0x2112
        key = MAGIC_COOKIE + tid if v6 else MAGIC_COOKIE
        addr = bytes(a ^ k for a, k in zip(addr, key, strict=True))
    value = struct.pack("!BBH", 0, 2 if v6 else 1, port) + addr
    return _attr(XOR_MAPPED_ADDRESS if xor else MAPPED_ADDRESS, value)


def error_attrs(code: int, unknown: list[bytes]) -> bytes:
    out = _attr(ERROR_CODE, struct.pack("!HBB", 0, code // 100, code % 100) + REASONS[code])
    if unknown:
        # RFC 3489 §11.2.3: an odd count repeats one so the value fills 32-bit words
        # (differences.md D-stun-1: Kamailio's length and repeat differ)
        types = unknown + unknown[:1] if len(unknown) % 2 else unknown
        out += _hdr.pack(UNKNOWN_ATTRIBUTES, 2 * len(types)) + b"".join(types)
    return out


def answer(data: bytes, ip: str, port: int, software: bytes) -> bytes | None:
    """The bytes to send back to ip:port for `data`, or None for no answer."""
    if len(data) < HEADER_LEN:
        return None
    mtype, mlen = _hdr.unpack_from(data, 0)
    cookie, tid = data[4:8], data[8:20]
    rfc5389 = cookie == MAGIC_COOKIE
    if mtype != BINDING_REQUEST:
        code, unknown = GLOBAL_FAILURE, []
    elif len(data) - HEADER_LEN != mlen:
        code, unknown = BAD_REQUEST, []
    else:
        code, unknown = read_body(data[HEADER_LEN:])
    if code:
        rtype, body = BINDING_ERROR, error_attrs(code, unknown)
    else:
        rtype, body = BINDING_SUCCESS, address_attr(ip, port, tid, xor=rfc5389)
    if rfc5389:
        body += _attr(SOFTWARE, software)
    return _hdr.pack(rtype, len(body)) + cookie + tid + body
