"""$hdr(name)[index] and $hdrc(name): header bodies by name, as received.

The name is matched like Kamailio does: any case, compact and full forms alike
($hdr(v) is $hdr(Via)); `*` matches every header. `[*]` joins all bodies with ",".
"""

from __future__ import annotations

from ..sip.errors import SipParseError
from ..sip.headers import header_key
from .base import INDEX_ALL, Pv, pick_index, resolve_index
from .errors import PvError, TransformError
from .registry import PvDef
from .values import to_str

ALL_HEADERS = "*"


def header_body(msg, hf) -> str:
    """The body as Kamailio's $hdr gives it: leading whitespace dropped, but trailing
    whitespace and folding kept as received (hf.value is the normalised body)."""
    value = hf.value
    text = msg.text
    end = hf.end
    if text[end - 1:end] == "\n":
        end -= 1
    if text[end - 1:end] == "\r":
        end -= 1
    if text.endswith(value, hf.start, end):
        return value
    start = text.find(":", hf.start, end) + 1
    while start < end and text[start] in " \t":
        start += 1
    return text[start:end]


class HeaderPv(Pv):
    """$hdr(name): the first body; $(hdr(name)[n]) the n-th (negative from the end)."""

    __slots__ = ("key", "name_pv", "index")

    def __init__(self, spec):
        super().__init__(spec)
        self.name_pv = spec.inner_pv
        self.key = None if self.name_pv is not None else _static_key(spec.inner)
        self.index = spec.index
        if self.index is not None and not isinstance(self.index, (int, Pv)) \
                and self.index is not INDEX_ALL:
            raise PvError(f"invalid index for $hdr: {self.index!r}", 0)

    def _key(self, msg):
        if self.key is not None:
            return self.key
        name = self.name_pv.get(msg)
        return header_key(to_str(name).strip()) if name else None

    def get(self, msg):
        key = self._key(msg)
        if key is None:
            return None
        index = self.index
        try:
            if index is None or index == 0:
                if key == ALL_HEADERS:
                    headers = msg.headers
                    return header_body(msg, headers[0]) if headers else None
                hf = msg.get_header(key)
                return header_body(msg, hf) if hf is not None else None
            fields = msg.headers if key == ALL_HEADERS else msg.get_headers(key)
        except SipParseError:
            return None
        if index is INDEX_ALL:
            return ",".join([header_body(msg, hf) for hf in fields]) if fields else None
        try:
            hf = pick_index(fields, resolve_index(index, msg))
        except TransformError:
            return None
        return header_body(msg, hf) if hf is not None else None


class HeaderCountPv(HeaderPv):
    """$hdrc(name): how many headers of that name the message has."""

    __slots__ = ()

    def get(self, msg):
        key = self._key(msg)
        if key is None:
            return 0
        try:
            if key == ALL_HEADERS:
                return len(msg.headers)
            return len(msg.get_headers(key))
        except SipParseError:
            return 0


def _static_key(name: str) -> str:
    name = name.strip()
    if not name or any(c in name for c in " \t:"):
        raise PvError(f"invalid header name {name!r}", 0)
    return ALL_HEADERS if name == ALL_HEADERS else header_key(name)


PVS = [
    PvDef("hdr", HeaderPv, inner="required", index=True),
    PvDef("hdrc", HeaderCountPv, inner="required"),
]
