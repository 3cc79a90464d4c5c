"""URI transformations {uri.*}: parts of a sip/sips/tel URI, "" for an absent part.
A value that is not a URI fails (the PV reads $null)."""

from __future__ import annotations

from functools import lru_cache

from ...sip.errors import SipParseError
from ...sip.uri import SipUri, parse_uri
from ..errors import TransformError
from ..registry import TransformationDef
from ..values import to_str


@lru_cache(maxsize=256)
def _parse(text: str) -> SipUri:
    # Kamailio caches the last URI parsed by a transformation; an LRU does that for a few.
    if len(text) > 4 and text.endswith(";"):
        text = text[:-1]
    return parse_uri(text)


def _uri(v) -> SipUri:
    text = to_str(v)
    if not text:
        raise TransformError("empty URI")
    try:
        return _parse(text)
    except SipParseError:
        raise TransformError(f"not a URI: {text!r}") from None


def _part(read):
    def run(v):
        return read(_uri(v))
    return run


def _param_value(uri: SipUri, name: str) -> str:
    value = uri.param(name)
    return value or ""


def port(v):
    uri = _uri(v)
    return uri.port if uri.port is not None else ""


def param(v, name):
    return _param_value(_uri(v), name)


def remove_param(v, name):
    text = to_str(v)
    uri = _uri(v)
    kept = [(n, val) for n, val in uri.params if n.lower() != name.lower()]
    if len(kept) == len(uri.params):
        return text
    return uri.replace(params=kept)


def _address(uri: SipUri, with_user: bool, with_port: bool) -> str:
    out = uri.scheme + ":"
    if with_user and uri.user:
        out += uri.user + "@"
    out += uri.host
    if with_port:
        if uri.port_str:
            out += ":" + uri.port_str
        transport = uri.param("transport")
        if transport:
            out += ";transport=" + transport
    return out


def to_socket(v):
    """{uri.tosocket}: proto:host:port; "" unless the URI names its transport."""
    uri = _uri(v)
    if not uri.param("transport"):
        return ""
    proto = uri.param("transport").lower()
    return f"{proto}:{uri.host}:{uri.port or 5060}"


def _def(name, fn, params=""):
    return TransformationDef("uri", name, fn, params)


TRANSFORMATIONS = [
    _def("user", _part(lambda u: u.user or "")),
    _def("host", _part(lambda u: u.host or "")),
    _def("domain", _part(lambda u: u.host or "")),
    _def("passwd", _part(lambda u: u.password or "")),
    _def("port", port),
    _def("params", _part(lambda u: u.params_str)),
    _def("param", param, "s"),
    _def("rmparam", remove_param, "s"),
    _def("headers", _part(lambda u: u.headers)),
    _def("transport", _part(lambda u: _param_value(u, "transport"))),
    _def("ttl", _part(lambda u: _param_value(u, "ttl"))),
    _def("uparam", _part(lambda u: _param_value(u, "user"))),
    _def("maddr", _part(lambda u: _param_value(u, "maddr"))),
    _def("method", _part(lambda u: _param_value(u, "method"))),
    _def("lr", _part(lambda u: _param_value(u, "lr"))),
    _def("r2", _part(lambda u: _param_value(u, "r2"))),
    _def("scheme", _part(lambda u: u.scheme)),
    _def("tosocket", to_socket),
    _def("duri", _part(lambda u: _address(u, False, True))),
    _def("suri", _part(lambda u: _address(u, True, True))),
    _def("saor", _part(lambda u: _address(u, True, False))),
]
