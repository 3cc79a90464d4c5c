"""bencode, the ng protocol's encoding (rtpengine: a cookie, a space, one dictionary).

A small codec of our own rather than a PyPI package: the ng client needs strings to stay
bytes both ways (an SDP body is opaque octets; the bencode libraries decode to str when
the bytes happen to be UTF-8 and to bytes otherwise), dictionaries that keep the order
they were built in (Kamailio sends its keys in insertion order, duplicates included), and
a decoder that refuses anything malformed or truncated instead of guessing.

encode: dict / list / tuple / int / bytes / str (latin-1, so SIP text maps 1:1 to octets).
A dict may be given as a list of (key, value) pairs through Pairs, to send duplicate keys.
decode: bytes -> dict / list / int / bytes; raises BencodeError.
"""

from __future__ import annotations


class BencodeError(ValueError):
    pass


class Pairs(list):
    """A dictionary as an ordered list of (key, value): keys may repeat."""


def encode(value) -> bytes:
    out: list[bytes] = []
    _enc(value, out.append)
    return b"".join(out)


def _enc(v, put):
    t = type(v)
    if t is str:
        b = v.encode("latin-1", "replace")
        put(b"%d:%b" % (len(b), b))
    elif t is bytes:
        put(b"%d:%b" % (len(v), v))
    elif t is Pairs:
        put(b"d")
        for k, x in v:
            _enc(k, put)
            _enc(x, put)
        put(b"e")
    elif t is list or t is tuple:
        put(b"l")
        for x in v:
            _enc(x, put)
        put(b"e")
    elif t is dict:
        put(b"d")
        for k, x in v.items():
            _enc(k, put)
            _enc(x, put)
        put(b"e")
    elif t is int:
        put(b"i%de" % v)
    else:
        _enc_other(v, put)


def _enc_other(v, put):
    """Subclasses and other byte types: the exact-type checks above are the fast path."""
    if isinstance(v, bool):
        raise BencodeError("cannot bencode bool")
    if isinstance(v, (bytes, bytearray, memoryview)):
        _enc(bytes(v), put)
    elif isinstance(v, str):
        _enc(str(v), put)
    elif isinstance(v, int):
        _enc(int(v), put)
    elif isinstance(v, Pairs):
        _enc(Pairs(v), put)
    elif isinstance(v, dict):
        _enc(dict(v), put)
    elif isinstance(v, (list, tuple)):
        _enc(list(v), put)
    else:
        raise BencodeError(f"cannot bencode {type(v).__name__}")


def decode(data: bytes):
    """The one value data holds; trailing bytes are an error."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BencodeError("bencode input must be bytes")
    data = bytes(data)
    value, pos = _dec(data, 0, 0)
    if pos != len(data):
        raise BencodeError(f"trailing data at offset {pos}")
    return value


_MAX_DEPTH = 64  # a reply nests a few levels; deeper input is an attack or garbage


def decode_keys(data: bytes, keys) -> dict:
    """A top-level dictionary with only `keys` decoded; the other values are skipped
    without building them (a delete's statistics, unread by the caller). A skipped
    value must still be complete and well-formed in its lengths and digits; its
    dictionary keys and integer leading zeros are not looked at."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BencodeError("bencode input must be bytes")
    d = bytes(data)
    n = len(d)
    if not n or d[0] != 0x64:
        raise BencodeError("not a dictionary")
    out = {}
    pos = 1
    while True:
        if pos >= n:
            raise BencodeError("unterminated dictionary")
        if d[pos] == 0x65:
            pos += 1
            break
        k, pos = _dec(d, pos, 1)
        if k.__class__ is not bytes:
            raise BencodeError("dictionary key is not a string")
        key = k.decode("latin-1")
        if key in keys and key not in out:
            out[key], pos = _dec(d, pos, 1)
        else:
            pos = _skip(d, pos, 1)
    if pos != n:
        raise BencodeError(f"trailing data at offset {pos}")
    return out


def _skip(d: bytes, pos: int, depth: int) -> int:
    """The offset after the value at pos, walked without recursion or building
    anything; truncation and malformed lengths/integers are still errors."""
    n = len(d)
    level = 0
    find = d.find
    while True:
        if pos >= n:
            raise BencodeError("truncated input")
        c = d[pos]
        if 0x30 <= c <= 0x39:
            colon = find(b":", pos, pos + 12)
            if colon < 0 or not d[pos:colon].isdigit():
                raise BencodeError(f"bad string length at offset {pos}")
            pos = colon + 1 + int(d[pos:colon])
            if pos > n:
                raise BencodeError("truncated string")
        elif c == 0x69:
            end = find(b"e", pos + 1, pos + 24)
            if end < 0 or not d[pos + 1 + (d[pos + 1] == 0x2D):end].isdigit():
                raise BencodeError(f"bad integer at offset {pos}")
            pos = end + 1
        elif c == 0x64 or c == 0x6C:
            level += 1
            if depth + level > _MAX_DEPTH:
                raise BencodeError("nesting too deep")
            pos += 1
            continue
        elif c == 0x65 and level:
            level -= 1
            pos += 1
        else:
            raise BencodeError(f"unexpected byte {d[pos:pos + 1]!r} at offset {pos}")
        if level == 0:
            return pos


def _dec(d: bytes, pos: int, depth: int):
    # one function for every type, locals only: a delete's reply (its statistics) has a
    # hundred-odd items, and this is on every call's path
    n = len(d)
    if pos >= n:
        raise BencodeError("truncated input")
    if depth > _MAX_DEPTH:
        raise BencodeError("nesting too deep")
    c = d[pos]
    if 0x30 <= c <= 0x39:  # <len>:<bytes>
        colon = d.find(b":", pos, pos + 12)
        if colon < 0:
            raise BencodeError(f"bad string length at offset {pos}")
        head = d[pos:colon]
        if not head.isdigit():
            raise BencodeError(f"bad string length at offset {pos}")
        end = colon + 1 + int(head)
        if end > n:
            raise BencodeError("truncated string")
        return d[colon + 1:end], end
    if c == 0x64:  # d ... e
        items = {}
        pos += 1
        while True:
            if pos >= n:
                raise BencodeError("unterminated dictionary")
            if d[pos] == 0x65:
                return items, pos + 1
            k, pos = _dec(d, pos, depth + 1)
            if k.__class__ is not bytes:
                raise BencodeError("dictionary key is not a string")
            v, pos = _dec(d, pos, depth + 1)
            key = k.decode("latin-1")
            if key not in items:   # the first of duplicate keys wins
                items[key] = v
    if c == 0x69:  # i<digits>e
        end = d.find(b"e", pos + 1, pos + 24)
        if end < 0:
            raise BencodeError("unterminated integer")
        text = d[pos + 1:end]
        digits = text[1:] if text[:1] == b"-" else text
        if not digits.isdigit() or (digits[0] == 0x30 and len(digits) > 1):
            raise BencodeError(f"bad integer at offset {pos}")
        return int(text), end + 1
    if c == 0x6C:  # l ... e
        items = []
        pos += 1
        while True:
            if pos >= n:
                raise BencodeError("unterminated list")
            if d[pos] == 0x65:
                return items, pos + 1
            v, pos = _dec(d, pos, depth + 1)
            items.append(v)
    raise BencodeError(f"unexpected byte {d[pos:pos + 1]!r} at offset {pos}")
