"""Reading a STUN answer in the tests: header fields and attributes."""

from __future__ import annotations

import socket
import struct

COOKIE = b"\x21\x12\xa4\x42"


def attrs(body: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos + 4 <= len(body):
        t, n = struct.unpack_from("!HH", body, pos)
        out.append((t, body[pos + 4:pos + 4 + n]))
        pos += 4 + ((n + 3) & ~3)
    return out


def header(msg: bytes) -> tuple[int, int, bytes, bytes]:
    """(type, length, cookie, transaction ID)."""
    t, n = struct.unpack_from("!HH", msg, 0)
    return t, n, msg[4:8], msg[8:20]


def mapped(value: bytes, tid: bytes, xor: bool) -> tuple[str, int]:
    """(ip, port) from a (XOR-)MAPPED-ADDRESS value."""
    family, port = value[1], struct.unpack_from("!H", value, 2)[0]
    addr = value[4:]
    if xor:
        port ^= 0x2112
        key = COOKIE + tid
        addr = bytes(a ^ k for a, k in zip(addr, key, strict=False))
    af = socket.AF_INET if family == 1 else socket.AF_INET6
    return socket.inet_ntop(af, addr), port


def error_code(value: bytes) -> tuple[int, bytes]:
    return value[2] * 100 + value[3], value[4:]
