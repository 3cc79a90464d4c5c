"""R-URI and URI tests/edits (Kamailio siputils): uri_param, add_uri_param,
get_uri_param, tel2sip, is_gruu, cmp_uri, cmp_aor, is_uri."""

from __future__ import annotations

from urllib.parse import unquote

from kamapy.sip.errors import SipParseError
from kamapy.sip.uri import parse_uri, uri_default_port


def uri_param(msg, name: str, value: str | None = None) -> int:
    try:
        uri = msg.parsed_ruri
    except SipParseError:
        return -1
    found = uri.param(name)
    if found is None:
        return -1
    if value is None:
        return 1
    return 1 if found == value else -1


def get_uri_param(msg, name: str, pv) -> int:
    try:
        found = msg.parsed_ruri.param(name)
    except SipParseError:
        return -1
    if found is None:
        return -1
    pv.set(msg, found)
    return 1


def add_uri_param(msg, param: str) -> int:
    if not param:
        return 1
    try:
        uri = msg.parsed_ruri
    except SipParseError:
        return -1
    params = uri.params_str + ";" + param if uri.params_str else param
    msg.set_ruri(uri.replace(params=params))
    return 1


def tel2sip(msg, text: str, host: str, pv) -> int:
    """tel:+1234;p=v -> sip:+1234;p=v@host;user=phone (RFC 3261 §19.1.6); a non-tel
    URI is returned as it is."""
    if not text.lower().startswith("tel:"):
        pv.set(msg, text)
        return 1
    number = text[4:]
    host_only = host.split(":", 1)[1] if host.lower().startswith(("sip:", "sips:")) else host
    pv.set(msg, f"sip:{number}@{host_only};user=phone")
    return 1


def is_gruu(msg, text: str | None = None) -> int:
    try:
        uri = parse_uri(text) if text is not None else msg.parsed_ruri
    except SipParseError:
        return -1
    gr = uri.param("gr")
    if gr is None:
        return -1
    return 1 if gr else 2


def _key(uri):
    """What RFC 3261 §19.1.4 compares: scheme, user (unescaped, case-sensitive), password,
    host (case-insensitive), port (default filled in), and the transport, user, ttl,
    method and maddr parameters."""
    params = {}
    for name, value in uri.params:
        lname = name.lower()
        if lname in ("transport", "user", "ttl", "method", "maddr"):
            params[lname] = (value or "").lower() if lname != "method" else value
    return (uri.scheme, unquote(uri.user), uri.password, uri.host.lower(), uri_default_port(uri),
            tuple(sorted(params.items())))


def _cmp(a, b) -> int:
    if a == b:
        return 1
    return -1 if a > b else -2


def cmp_uri(msg, a: str, b: str) -> int:
    try:
        ka, kb = _key(parse_uri(a)), _key(parse_uri(b))
    except SipParseError:
        return -8
    return 1 if ka == kb else -1


def cmp_aor(msg, a: str, b: str) -> int:
    """user@host of two URIs (default port on both sides)."""
    try:
        ua, ub = parse_uri(a), parse_uri(b)
    except SipParseError:
        return -8
    ka = (unquote(ua.user), ua.host.lower(), uri_default_port(ua))
    kb = (unquote(ub.user), ub.host.lower(), uri_default_port(ub))
    return 1 if ka == kb else -1


def is_uri(msg, text: str) -> int:
    try:
        parse_uri(text)
    except SipParseError:
        return -1
    return 1
