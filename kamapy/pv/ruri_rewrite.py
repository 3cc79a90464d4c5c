"""Rewriting parts of the R-URI, with Kamailio's exact results (action.c SET_*_T).

Shared by the rewrite*/strip/prefix core functions and the writable R-URI PVs
($rU = ..., $rd = ..., $rp = ...), which in Kamailio run the same action.
"""

from __future__ import annotations

import logging

from ..sip.errors import SipParseError
from ..sip.uri import SipUri, parse_uri

log = logging.getLogger("kamapy.core")

# what is being rewritten (Kamailio's action types)
SET_USER = "user"
SET_USERPASS = "userpass"
SET_HOST = "host"
SET_HOSTPORT = "hostport"
SET_HOSTPORTTRANS = "hostporttrans"
SET_HOSTALL = "hostall"
SET_PORT = "port"
PREFIX = "prefix"
STRIP = "strip"
STRIP_TAIL = "strip_tail"
SET_USERPHONE = "userphone"

_HOST_SETTERS = (SET_HOST, SET_HOSTPORT, SET_HOSTPORTTRANS)

E_UNSPEC = -1


def rewrite_uri(uri: SipUri, kind: str, arg=None) -> str | None:
    """The URI text with one part rewritten; None when nothing changes
    (set_uri_user_phone on a tel: URI). Raises ValueError for a port on a tel: URI."""
    tel = uri.scheme in ("tel", "tels")
    if kind == SET_USERPHONE and (tel or (uri.param("user") or "").lower() == "phone"):
        return None
    if kind == SET_PORT and tel:
        raise ValueError("port number of a tel: URI cannot be set")
    scheme = uri.scheme
    if tel and kind in _HOST_SETTERS:
        scheme = "sip" if scheme == "tel" else "sips"
    out = [scheme, ":"]
    has_user = False
    if kind == PREFIX:
        out.append(arg)
        has_user = True  # with a prefix there is a user part, whatever was there
    user = uri.user or ""
    if kind in (SET_USER, SET_USERPASS):
        user = arg
    elif kind == STRIP:
        user = "" if arg >= len(user) else user[arg:]
    elif kind == STRIP_TAIL:
        user = "" if arg >= len(user) else user[:len(user) - arg]
    if user:
        out.append(user)
        has_user = True
    password = None if kind == SET_USERPASS else uri.password
    if has_user and password is not None:
        out.append(":")
        out.append(password)
    if tel and uri.params_str:
        out.append(";")
        out.append(uri.params_str)  # tel: parameters belong to the number
    if kind in _HOST_SETTERS or kind == SET_HOSTALL:
        host = arg or ""
    elif not tel:
        host = uri.host
    else:
        host = None
    if host is not None:
        if has_user:
            out.append("@")
        out.append(host)
    if kind == SET_HOSTALL:
        return "".join(out)
    if kind in (SET_HOSTPORT, SET_HOSTPORTTRANS):
        port = ""
    elif kind == SET_PORT:
        port = arg or ""
    else:
        port = uri.port_str
    if port:
        out.append(":")
        out.append(port)
    if not tel and uri.params_str:
        params = uri.params_str
        if kind == SET_HOSTPORTTRANS:
            params = ";".join(p for p in params.split(";")
                              if p.split("=", 1)[0].strip().lower() != "transport")
        if params:
            out.append(";")
            out.append(params)
    if (tel and kind in _HOST_SETTERS) or kind == SET_USERPHONE:
        out.append(";user=phone")
    if uri.headers:
        out.append("?")
        out.append(uri.headers)
    return "".join(out)


def current_ruri(msg) -> SipUri | None:
    """The parsed current R-URI ($ru), None when it does not parse."""
    try:
        return msg.parsed_ruri
    except SipParseError:
        return None


def rewrite_ruri(msg, kind: str, arg=None) -> int:
    """Rewrite part of the message's R-URI; 1 on success, a negative error code
    otherwise (Kamailio logs "bad uri" and returns E_UNSPEC)."""
    if msg.ruri is None:  # a reply has no R-URI
        return E_UNSPEC
    text = msg.current_uri
    try:
        uri = parse_uri(text)
        new = rewrite_uri(uri, kind, arg)
    except SipParseError:
        log.error("bad uri <%s>, cannot rewrite it", text)
        return E_UNSPEC
    except ValueError as e:
        log.error("%s", e)
        return E_UNSPEC
    if new is not None:
        msg.set_ruri(new)
    return 1
