"""STUN messages for the stun module's tests: good Binding requests with and without
the RFC 5389 magic cookie, and the malformed ones Kamailio answers with an error or
drops (every case was sent to Kamailio 5.6.3 with stun.so; test_stun_wire.py compares)."""

from __future__ import annotations

import struct

COOKIE = b"\x21\x12\xa4\x42"
TID = b"ABCDEFGHIJKL"


def request(mtype: int = 0x0001, cookie: bool = True, attrs: bytes = b"", tid: bytes = TID,
            length: int | None = None) -> bytes:
    return (struct.pack("!HH", mtype, len(attrs) if length is None else length)
            + (COOKIE if cookie else b"WXYZ") + tid + attrs)


def attr(atype: int, value: bytes) -> bytes:
    return struct.pack("!HH", atype, len(value)) + value


# name -> (datagram, what Kamailio does: "success", an error code, or None: no answer)
CASES = {
    "binding": (request(), "success"),
    "binding_rfc3489": (request(cookie=False), "success"),
    "software_attr": (request(attrs=attr(0x8022, b"abcde\0\0\0")), "success"),
    "fingerprint_last": (request(attrs=attr(0x8028, b"\1\2\3\4")), "success"),
    "optional_unknown": (request(attrs=attr(0x8033, b"abcd")), "success"),
    "long_software": (request(attrs=attr(0x8022, b"y" * 1200)), "success"),
    "indication": (request(mtype=0x0011), 600),
    "length_mismatch": (request(length=8), 400),
    "fingerprint_not_last": (request(attrs=attr(0x8028, b"\1\2\3\4") + attr(0x8022, b"x" * 20)), 400),
    "attr_value_cut": (request(attrs=b"\x00\x06\x00\x10ab"), 400),
    "attr_header_cut": (request(attrs=b"\x00\x06\x00"), 400),
    "unknown_1": (request(attrs=attr(0x0033, b"abcd")), 420),
    "unknown_2": (request(attrs=attr(0x0033, b"abcd") + attr(0x0044, b"")), 420),
    "unknown_3": (request(attrs=attr(0x0033, b"") + attr(0x0044, b"") + attr(0x0055, b"")), 420),
    "unknown_rfc3489": (request(cookie=False, attrs=attr(0x0033, b"")), 420),
    "header_19_bytes": (request()[:19], None),
    "zeros_4": (b"\0\0\0\0", None),
    "empty": (b"", None),
    "response_type": (request(mtype=0x0101), None),   # first byte 0x01: the SIP parser's
    "first_byte_01": (b"\x01" + b"x" * 40, None),
}
