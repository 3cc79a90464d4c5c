"""The binrpc wire format (Kamailio: modules/ctl/binrpc.h documents it).

A packet is a header -- 0xA1 (magic 0xA, version 1), then a byte holding the
message type (request 0, reply 1, fault 3) and the byte counts of the two numbers
that follow, the body length and the cookie, each big-endian on 1..4 bytes --
followed by the body: a list of records. A record starts with one byte: the type in
the low nibble, the size in the high one (bit 8 of it set: the size is the number
of bytes of a length that follows). Integers are big-endian on the fewest bytes
(0 is a record with no value bytes), strings carry a terminating NUL counted in
their length, doubles are a fixed-point 64-bit integer (value * 1000). A struct is
a start record, name/value pairs (the name is an AVP record, a NUL-terminated
string), and an end record (the struct type with the size bit set); Kamailio also
sends arrays as structs holding values without names, which kamcmd prints as they
are.

A request's body is the method name (a string) and the parameters. A reply's body
is the values the handler added; a fault's is the code (an int) and the message.
"""

from __future__ import annotations

MAGIC_VERSION = 0xA1

REQ = 0
REPL = 1
FAULT = 3

T_INT = 0
T_STR = 1
T_DOUBLE = 2
T_STRUCT = 3
T_ARRAY = 4
T_AVP = 5
T_BYTES = 6

NULL_STRING = "<null string>"   # what Kamailio's rpc->add prints for a NULL string

MIN_PKT_SIZE = 4


class BinrpcError(ValueError):
    """A packet that cannot be parsed (Kamailio's E_BINRPC_* texts)."""


class NeedMore(Exception):
    """Not a whole packet yet: read more bytes."""


# ---------------------------------------------------------------------- numbers
def _int_bytes(value: int, width: int) -> bytes:
    """`value` as unsigned big-endian without the leading zero bytes (0 -> b"")."""
    u = value & ((1 << (8 * width)) - 1)
    return u.to_bytes(width, "big").lstrip(b"\x00")


def _u_min(value: int) -> bytes:
    """An unsigned header number on at least one byte."""
    return _int_bytes(value, 4) or b"\x00"


def build_header(msg_type: int, body_len: int, cookie: int) -> bytes:
    length = _u_min(body_len)
    ck = _u_min(cookie & 0xFFFFFFFF)
    return bytes((MAGIC_VERSION, (msg_type << 4) | ((len(length) - 1) << 2) | (len(ck) - 1))) + length + ck


def parse_header(buf: bytes) -> tuple[int, int, int, int]:
    """(type, body length, cookie, header size); NeedMore when the header is not
    complete, BinrpcError when it is not binrpc."""
    if len(buf) < MIN_PKT_SIZE:
        raise NeedMore()
    if buf[0] != MAGIC_VERSION:
        raise BinrpcError("corrupted packet")
    msg_type = buf[1] >> 4
    if msg_type not in (REQ, REPL, FAULT):
        raise BinrpcError("corrupted packet")
    len_len = ((buf[1] >> 2) & 3) + 1
    c_len = (buf[1] & 3) + 1
    hdr = 2 + len_len + c_len
    if len(buf) < hdr:
        raise NeedMore()
    body_len = int.from_bytes(buf[2:2 + len_len], "big")
    cookie = int.from_bytes(buf[2 + len_len:hdr], "big")
    return msg_type, body_len, cookie, hdr


# ---------------------------------------------------------------------- writing records
def rec_int(value: int) -> bytes:
    v = _int_bytes(value, 4)
    return bytes(((len(v) << 4) | T_INT,)) + v


def rec_double(value: float) -> bytes:
    fixed = int(value * 1000)            # C's (long long) cast: toward zero
    v = _int_bytes(fixed, 8)
    return bytes(((len(v) << 4) | T_DOUBLE,)) + v


def _rec_str(data: bytes, rtype: int) -> bytes:
    if rtype in (T_STR, T_AVP):
        data = data + b"\x00"
    n = len(data)
    if n < 8:
        return bytes(((n << 4) | rtype,)) + data
    ln = _int_bytes(n, 4)
    return bytes((((len(ln) | 8) << 4) | rtype,)) + ln + data


def rec_str(text) -> bytes:
    if isinstance(text, (bytes, bytearray, memoryview)):
        return _rec_str(bytes(text), T_STR)
    return _rec_str(str(text).encode("utf-8", "surrogateescape"), T_STR)


def rec_name(name) -> bytes:
    return _rec_str(str(name).encode("utf-8", "surrogateescape"), T_AVP)


STRUCT_START = bytes((T_STRUCT,))
STRUCT_END = bytes((0x80 | T_STRUCT,))


def fault_body(code: int, message: str) -> bytes:
    data = message.encode("utf-8", "replace")[:255]
    return rec_int(code) + rec_str(data)


# ---------------------------------------------------------------------- Python values -> records
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1


class Overflow(Exception):
    pass


class ReplyWriter:
    """Python RPC results as the records Kamailio's rpc->add / struct_add /
    array_add would write: a dict is a struct, a list inside a struct or list is a
    struct of unnamed values (Kamailio's "[" is a struct too) -- a one-member dict
    in such a list is that named member --, an int that does not
    fit 32 bits a double (Kamailio's "l"/"j" formats), None the null string.

    `max_body` limits the top-level records (binrpc_max_body_size), `max_struct`
    each struct's own records (binrpc_struct_max_body_size); an entry that does not
    fit a struct is left out, as Kamailio's struct_add fails for it."""

    def __init__(self, max_body: int = 32 * 1024, max_struct: int = 8 * 1024):
        self.max_body = max_body
        self.max_struct = max_struct
        self.dropped = 0

    def scalar(self, value) -> bytes:
        if value is None:
            return rec_str(NULL_STRING)
        if isinstance(value, bool):
            return rec_int(int(value))
        if isinstance(value, int):
            if INT_MIN <= value <= INT_MAX:
                return rec_int(value)
            if abs(value) < (1 << 63) // 1000:
                return rec_double(float(value))
            return rec_str(str(value))
        if isinstance(value, float):
            if abs(value) < (1 << 63) / 1000:
                return rec_double(value)
            return rec_str(repr(value))
        return rec_str(value if isinstance(value, (bytes, bytearray)) else str(value))

    def _container(self, items) -> bytes:
        """The records of one struct: (name or None, value) pairs."""
        own = 0
        parts = []
        for name, value in items:
            head = rec_name(name) if name is not None else b""
            if isinstance(value, (dict, list, tuple)):
                inner = self._struct_of(value)
                piece = head + STRUCT_START
                size = len(piece) + 1
                if own + size > self.max_struct:
                    self.dropped += 1
                    continue
                own += size
                parts.append(piece + inner + STRUCT_END)
            else:
                piece = head + self.scalar(value)
                if own + len(piece) > self.max_struct:
                    self.dropped += 1
                    continue
                own += len(piece)
                parts.append(piece)
        return b"".join(parts)

    def _struct_of(self, value) -> bytes:
        if isinstance(value, dict):
            return self._container(value.items())
        # Kamailio's struct_add on an array handle names each member; jsonrpcs shows
        # it as [{"Domain": {...}}, ...], which is how kamapy's handlers return it
        return self._container(next(iter(v.items())) if isinstance(v, dict) and len(v) == 1 else (None, v)
                               for v in value)

    def top(self, value) -> bytes:
        if isinstance(value, (dict, list, tuple)):
            return STRUCT_START + self._struct_of(value) + STRUCT_END
        return self.scalar(value)

    def body(self, result) -> bytes:
        """The reply body for a handler's result: a top-level list is one record per
        element (several rpc->add calls), None nothing. Overflow when the top-level
        records pass max_body (the struct contents do not count, as in Kamailio)."""
        if result is None:
            return b""
        values = result if isinstance(result, (list, tuple)) else [result]
        out = []
        own = 0
        for v in values:
            piece = self.top(v)
            own += 2 if isinstance(v, (dict, list, tuple)) else len(piece)
            if own > self.max_body:
                raise Overflow("{" if isinstance(v, (dict, list, tuple)) else ("d" if isinstance(v, int) else "s"))
            out.append(piece)
        return b"".join(out)


# ---------------------------------------------------------------------- reading records
def read_records(body: bytes, pos: int = 0):
    """Every value in `body` from `pos`: ints, floats, strs (BYTES too), dicts for
    structs with names, lists for structs/arrays without. BinrpcError for a bad one."""
    out = []
    while pos < len(body):
        value, pos = _read_value(body, pos)
        out.append(value)
    return out


def _read_head(body: bytes, pos: int):
    if pos >= len(body):
        raise BinrpcError("more data needed")
    b = body[pos]
    rtype, size = b & 0x0F, b >> 4
    pos += 1
    end_tag = False
    if rtype != T_DOUBLE and size & 8:
        end_tag = True
        n = size & 7
        if pos + n > len(body):
            raise BinrpcError("more data needed")
        size = int.from_bytes(body[pos:pos + n], "big")
        pos += n
    if pos + size > len(body):
        raise BinrpcError("more data needed")
    return rtype, size, end_tag, pos


def _signed(data: bytes, bits: int) -> int:
    u = int.from_bytes(data, "big")
    if data and len(data) * 8 >= bits and u >> (bits - 1):
        u -= 1 << bits
    return u


def _read_value(body: bytes, pos: int):
    rtype, size, end_tag, pos = _read_head(body, pos)
    data = body[pos:pos + size]
    if rtype == T_INT:
        return _signed(data, 32), pos + size
    if rtype == T_DOUBLE:
        return _signed(data, 64) / 1000, pos + size
    if rtype == T_STR:
        return data[:-1].decode("utf-8", "surrogateescape") if size else "", pos + size
    if rtype == T_BYTES:
        return data.decode("utf-8", "surrogateescape"), pos + size
    if rtype in (T_STRUCT, T_ARRAY):
        if end_tag:
            raise BinrpcError("bad record")
        return _read_container(body, pos, rtype)
    raise BinrpcError("record doesn't match type")


def _read_container(body: bytes, pos: int, ctype: int):
    named: dict = {}
    plain: list = []
    while True:
        if pos >= len(body):
            raise BinrpcError("more data needed")
        b = body[pos]
        if b & 0x0F == ctype and b & 0x80:
            pos += 1
            return (named if named else plain), pos
        rtype, size, _end, vpos = _read_head(body, pos)
        if rtype == T_AVP:
            name = body[vpos:vpos + size - 1].decode("utf-8", "surrogateescape") if size else ""
            value, pos = _read_value(body, vpos + size)
            named[name] = value
        else:
            value, pos = _read_value(body, pos)
            plain.append(value)


def split_request(body: bytes) -> tuple[str, list]:
    """(method, params) of a request body."""
    rtype, size, _end, pos = _read_head(body, 0)
    if rtype != T_STR:
        raise BinrpcError("record doesn't match type")
    method = body[pos:pos + size - 1].decode("utf-8", "surrogateescape") if size else ""
    return method, read_records(body, pos + size)


def build_request(method: str, params=(), cookie: int = 1) -> bytes:
    """A request packet (what kamcmd sends), for tests and clients."""
    body = rec_str(method)
    for p in params:
        if isinstance(p, bool) or isinstance(p, int):
            body += rec_int(int(p))
        elif isinstance(p, float):
            body += rec_double(p)
        else:
            body += rec_str(p)
    return build_header(REQ, len(body), cookie) + body


def packet(msg_type: int, body: bytes, cookie: int) -> bytes:
    return build_header(msg_type, len(body), cookie) + body

