"""name-addr transformations {nameaddr.*} (display name, uri, len) and To-body
transformations {tobody.*} (uri, display, tag, user, host, params)."""

from __future__ import annotations

from functools import lru_cache

from ...sip.errors import SipParseError
from ...sip.nameaddr import NameAddr, parse_nameaddr
from ..errors import TransformError
from ..registry import TransformationDef
from ..values import to_str


@lru_cache(maxsize=256)
def _parse(text: str) -> NameAddr:
    return parse_nameaddr(text)


def _nameaddr(v) -> NameAddr:
    text = to_str(v)
    if not text:
        raise TransformError("empty name-addr")
    try:
        return _parse(text)
    except SipParseError:
        raise TransformError(f"not a name-addr: {text!r}") from None


def _part(read):
    def run(v):
        return read(_nameaddr(v))
    return run


def _uri_part(read):
    def run(v):
        try:
            uri = _nameaddr(v).parsed_uri
        except SipParseError:
            raise TransformError("bad URI in the name-addr") from None
        return read(uri)
    return run


def _params_text(na: NameAddr) -> str:
    """The header parameters as written, from the first name to the end (no ';')."""
    return ";".join(n if val is None else f"{n}={val}" for n, val in na.params)


def _tobody(read):
    """tobody.* fail unless the URI inside parses too (Kamailio parses it)."""
    def run(v):
        na = _nameaddr(v)
        try:
            _ = na.parsed_uri
        except SipParseError:
            raise TransformError("bad URI in the To body") from None
        return read(na)
    return run


# nameaddr.*: without <...> the whole text is the URI, parameters included
def na_uri(na: NameAddr) -> str:
    return na.uri if na.bracketed else na.text


def na_name(na: NameAddr) -> str:
    """The text before '<' as written (quotes and the space before '<' kept)."""
    if not na.bracketed:
        return ""
    text = na.text.lstrip(" \t")
    lt = text.find("<")
    return text[:lt] if lt > 0 else ""


def na_len(na: NameAddr) -> int:
    if na.bracketed:
        return na.text.find(">") + 1
    return len(na.text)


TRANSFORMATIONS = [
    TransformationDef("nameaddr", "name", _part(na_name)),
    TransformationDef("nameaddr", "uri", _part(na_uri)),
    TransformationDef("nameaddr", "len", _part(na_len)),
    TransformationDef("tobody", "uri", _tobody(lambda na: na.uri)),
    TransformationDef("tobody", "display", _tobody(lambda na: na.display)),
    TransformationDef("tobody", "tag", _tobody(lambda na: na.tag or "")),
    TransformationDef("tobody", "params", _tobody(_params_text)),
    TransformationDef("tobody", "user", _uri_part(lambda u: u.user or "")),
    TransformationDef("tobody", "host", _uri_part(lambda u: u.host or "")),
]
