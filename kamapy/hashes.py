"""Kamailio's string hashes (src/core/hashes.h) where its values show on the wire or in a
DB: dialog's h_entry (the did rr param, dialog.hash_entry), {s.corehash}, permissions'
dump slots, uac's cnonce.

Kamailio reads the bytes as `char`, signed on x86, so a byte >= 0x80 counts as b - 256.
Words are taken big-endian, four bytes at a time; for a word U read unsigned, the
signed reading is U - 2 * (U & 0x80..80) (each high bit weighs -2^k instead of +2^k)."""
import struct

_M = 0xFFFFFFFF
_HIGH = (0, 0x80, 0x8080, 0x808080)


def _sum(data: bytes) -> int:
    n = len(data)
    full = n & ~3
    h = 0
    if full:
        for u in struct.unpack(">%dI" % (full >> 2), data[:full] if full != n else data):
            v = (u - ((u & 0x80808080) << 1)) & _M
            h += v ^ (v >> 3)
    rest = n - full
    if rest:
        t = int.from_bytes(data[full:], "big")
        v = (t - ((t & _HIGH[rest]) << 1)) & _M
        h += v ^ (v >> 3)
    # the loop in C adds (0 ^ 0) for an empty tail: nothing
    return h & _M


def _finish(h: int) -> int:
    return ((h + (h >> 11)) + ((h >> 13) + (h >> 23))) & _M


def core_hash(data: bytes, size: int = 0) -> int:
    """core_hash(s, NULL, size): the raw 32-bit hash, or its slot (h & (size-1)) when a
    size is given (Kamailio's tables have power-of-two sizes)."""
    h = _finish(_sum(data))
    return h & (size - 1) if size else h


def hash1_raw(data: bytes) -> int:
    """get_hash1_raw(s, len): the same sum and finish as core_hash without a size (its
    tail of 1-3 bytes is computed as one shifted sum, which equals core_hash's loop)."""
    return _finish(_sum(data))
