"""SIP, SIPS, TEL and URN URIs (RFC 3261 §19.1, RFC 3966, RFC 5031), like Kamailio's
parse_uri.

Every part is kept as written (escapes included) so str(uri) gives back the exact text
and replace() changes one part without disturbing the rest — what rewriteuser(),
rewritehost(), $rU = ... need. `user_unescaped` gives the %-decoded user.
"""

from __future__ import annotations

from urllib.parse import unquote as _pct_unquote

from .errors import SipParseError
from .scan import find_param, has_param, param_spans

SCHEMES = ("sip", "sips", "tel", "tels", "urn")
DEFAULT_PORTS = {"sip": 5060, "sips": 5061, "tel": 5060, "tels": 5061, "urn": 5060}

_HOST_STOP = ";?"


class SipUri:
    """A parsed URI. Attributes are the raw text of each part."""

    __slots__ = ("text", "scheme", "user", "password", "host", "port", "port_str",
                 "params_str", "headers", "_params", "_hop")

    def __init__(self, text, scheme, user, password, host, port_str, params_str, headers):
        self.text = text
        self.scheme = scheme          # lowercase: sip, sips, tel, tels
        self.user = user              # '' when absent; for tel: the number
        self.password = password      # None when absent
        self.host = host              # '' for tel; IPv6 keeps its [brackets]
        self.port_str = port_str      # '' when absent
        self.port = int(port_str) if port_str else None
        self.params_str = params_str  # the text after the first ';' (before '?'), '' if none
        self.headers = headers        # the text after '?', '' if none
        self._params = None
        self._hop = None              # kamapy.sip.next_hop.uri_hop's answer, once asked

    @property
    def params(self) -> list[tuple[str, str | None]]:
        """URI parameters in order: [(name, value or None), ...]."""
        if self._params is None:
            p = self.params_str
            if not p:
                self._params = []
            else:
                out = []
                for s, e in param_spans(p, 0, len(p)):
                    eq = p.find("=", s, e)
                    if eq < 0:
                        out.append((p[s:e], None))
                    else:
                        out.append((p[s:eq], p[eq + 1:e]))
                self._params = out
        return self._params

    def param(self, name: str) -> str | None:
        """A parameter's value; '' for a flag parameter (;lr); None when absent."""
        for n, v in self.params:
            if n.lower() == name.lower():
                return "" if v is None else v
        return None

    def has_param(self, name: str) -> bool:
        return has_param(self.params, name)

    @property
    def transport(self) -> str:
        v = find_param(self.params, "transport")
        return v.lower() if v else ""

    @property
    def maddr(self) -> str:
        return find_param(self.params, "maddr") or ""

    @property
    def user_unescaped(self) -> str:
        return _pct_unquote(self.user, encoding="latin-1") if "%" in self.user else self.user

    @property
    def host_bare(self) -> str:
        """The host without IPv6 brackets (for sockets and comparisons)."""
        h = self.host
        return h[1:-1] if h[:1] == "[" else h

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port_str}" if self.port_str else self.host

    @property
    def secure(self) -> bool:
        return self.scheme in ("sips", "tels")

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"SipUri({self.text!r})"

    def __eq__(self, other):
        if isinstance(other, SipUri):
            return self.text == other.text
        return NotImplemented

    def __hash__(self):
        return hash(self.text)

    def replace(self, **parts) -> str:
        """The URI text with some parts changed: scheme, user, password, host, port,
        params (str without leading ';', or a list of (name, value)), headers.

        user=''/None drops 'user@' (and the password); port=None/'' drops ':port'.
        """
        for k in parts:
            if k not in _REPLACEABLE:
                raise TypeError(f"replace() got an unexpected part {k!r}")
        scheme = parts.get("scheme", self.scheme)
        user = parts.get("user", self.user) or ""
        password = parts.get("password", self.password)
        host = parts.get("host", self.host)
        port = parts.get("port", self.port_str)
        params = parts.get("params", self.params_str)
        headers = parts.get("headers", self.headers)
        if not isinstance(params, str):
            params = ";".join(n if v is None else f"{n}={v}" for n, v in params)
        out = [scheme, ":"]
        if user:
            out.append(user)
            if password is not None:
                out.append(":")
                out.append(password)
            if scheme == "urn" and self.scheme == "urn" and self.text[4 + len(self.user):][:1] == ":":
                out.append(":")  # urn:NID:NSS keeps its form
            elif host or scheme in ("sip", "sips"):
                out.append("@")
        out.append(host or "")
        if port not in (None, ""):
            out.append(":")
            out.append(str(port))
        if params:
            out.append(";")
            out.append(params)
        if headers:
            out.append("?")
            out.append(headers)
        return "".join(out)


_REPLACEABLE = frozenset(("scheme", "user", "password", "host", "port", "params", "headers"))


# parse_uri's answers by text, per process: a SipUri is never changed once made (its
# lazy params and next hop are functions of the text), so equal texts can share one.
# The same URIs come back message after message -- a callee's Contact in every
# in-dialog request's R-URI, the Route of a dialog's ACK and BYE, a service's R-URI.
# Bounded: emptied when full, so a flood of distinct URIs costs one dict clear per
# _URI_CACHE_MAX of them.
_uri_cache: dict[str, SipUri] = {}
_URI_CACHE_MAX = 512


def parse_uri(text: str) -> SipUri:
    """Parse a sip:/sips:/tel: URI; raise SipParseError when it is not one."""
    u = _uri_cache.get(text)
    if u is None:
        u = _plain_sip(text)  # parse_uri_text, inlined (one frame less)
        if u is None:
            u = _parse_general(text)
        if len(_uri_cache) >= _URI_CACHE_MAX:
            _uri_cache.clear()
        _uri_cache[text] = u
    return u


def parse_uri_text(text: str) -> SipUri:
    """parse_uri without the cache: a new SipUri every time."""
    u = _plain_sip(text)
    return u if u is not None else _parse_general(text)


def _plain_sip(text: str) -> SipUri | None:
    """The usual `sip:[user@]host[:port][;params]` (no password, headers or IPv6, no
    '@' among the params): what _parse_general gives for it, in fewer steps -- every
    Route, Record-Route and Contact of a dialog has this shape. None for anything
    else, and for anything _parse_general would refuse (tests/sip/test_uri_plain.py
    compares the two on generated URIs)."""
    if text[:4] != "sip:" or "?" in text or "[" in text:
        return None
    semi = text.find(";")
    if semi < 0:
        head, params = text, ""
    else:
        # the general reading takes userinfo up to the LAST '@', params included
        if "@" in text[semi:]:
            return None
        head, params = text[:semi], text[semi + 1:]
    at = head.rfind("@")
    if at >= 0:
        user = head[4:at]
        if not user or ":" in user:
            return None  # empty user (an error) or a password: the general reading
        hostport = head[at + 1:]
    else:
        user = ""
        hostport = head[4:]
    c = hostport.find(":")
    if c < 0:
        host, port_str = hostport, ""
    else:
        host, port_str = hostport[:c], hostport[c + 1:]
        if not (port_str.isdigit() and port_str.isascii() and len(port_str) <= 5 and int(port_str) <= 65535):
            return None
    if not host or not _HOST_CHARS.issuperset(host):
        return None
    return SipUri(text, "sip", user, None, host, port_str, params, "")


def _parse_general(text: str) -> SipUri:
    """Any URI parse_uri takes, or SipParseError."""
    colon = text.find(":")
    if colon <= 0:
        raise SipParseError("bad uri: no scheme")
    scheme = text[:colon].lower()
    if scheme not in SCHEMES:
        raise SipParseError(f"unsupported uri scheme {text[:colon]!r}")
    rest = text[colon + 1:]
    if not rest:
        raise SipParseError("bad uri: empty")
    if scheme in ("tel", "tels"):
        return _parse_tel(text, scheme, rest)
    if scheme == "urn":
        u = _parse_urn(text, rest)
        if u is not None:
            return u
        # else read as a SIP URI: urn:foo is host foo, urn:service:123 host:port
    # headers: after the first '?'
    q = rest.find("?")
    if q >= 0:
        headers = rest[q + 1:]
        rest = rest[:q]
    else:
        headers = ""
    # userinfo ends at the last '@' (a password may not hold '@' unescaped, a user
    # may hold ';' — "alice;npdi@host" — so search the whole remaining text)
    at = rest.rfind("@")
    user = ""
    password = None
    if at >= 0:
        userinfo = rest[:at]
        rest = rest[at + 1:]
        pc = userinfo.find(":")
        if pc >= 0:
            user = userinfo[:pc]
            password = userinfo[pc + 1:]
        else:
            user = userinfo
        if not user:
            raise SipParseError("bad uri: empty user")
    # host
    if rest[:1] == "[":
        rb = rest.find("]")
        if rb < 0:
            raise SipParseError("bad uri: unclosed IPv6 reference")
        host = rest[:rb + 1]
        if not _valid_ipv6(host[1:-1]):
            raise SipParseError("bad uri: bad IPv6 reference")
        rest = rest[rb + 1:]
        if rest and rest[0] not in ":;":
            raise SipParseError("bad uri: junk after IPv6 reference")
    else:
        i = len(rest)
        j = rest.find(":")
        if 0 <= j < i:
            i = j
        j = rest.find(";", 0, i)
        if j >= 0:
            i = j
        host = rest[:i]
        rest = rest[i:]
        if not host or not _valid_hostname(host):
            raise SipParseError("bad uri: bad host")
    port_str = ""
    if rest[:1] == ":":
        semi = rest.find(";")
        port_str = rest[1:semi] if semi >= 0 else rest[1:]
        rest = rest[semi:] if semi >= 0 else ""
        if not port_str.isdigit() or not port_str.isascii() or len(port_str) > 5 \
                or int(port_str) > 65535:
            raise SipParseError("bad uri: bad port")
    params_str = rest[1:] if rest[:1] == ";" else ""
    if rest and rest[0] != ";":
        raise SipParseError("bad uri")
    return SipUri(text, scheme, user, password, host, port_str, params_str, headers)


def _parse_tel(text, scheme, rest):
    semi = rest.find(";")
    number = rest[:semi] if semi >= 0 else rest
    if not number or any(c in number for c in " \t<>\"@"):
        raise SipParseError("bad tel uri")
    params_str = rest[semi + 1:] if semi >= 0 else ""
    return SipUri(text, scheme, number, None, "", "", params_str, "")


_URN_STOP = frozenset(";?[]:@")


def _parse_urn(text, rest):
    """urn:NID:NSS with an NSS that is not a port number: Kamailio reads it as user NID,
    host NSS (urn:service:sos -> $rU service, $rd sos). A second ':' or any ';', '?' in
    such a URN makes it a bad URI there; every other urn: is parsed as a SIP URI
    (None here)."""
    c = rest.find(":")
    if c <= 0 or "@" in rest:
        return None
    nid, nss = rest[:c], rest[c + 1:]
    if nid[0] == "[" or ";" in nid or "?" in nid or "]" in nid:
        return None
    k = 0
    while k < len(nss) and "0" <= nss[k] <= "9":
        k += 1
    if k == len(nss) or nss[k] in ";?[]:":
        return None  # still a port (or a bad one): the SIP reading decides
    if any(ch in _URN_STOP for ch in nss[k:]):
        raise SipParseError("bad urn")
    return SipUri(text, "urn", nid, None, nss, "", "", "")


_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
_V6_CHARS = frozenset("0123456789abcdefABCDEF:.")


def _valid_hostname(host: str) -> bool:
    return _HOST_CHARS.issuperset(host)


def _valid_ipv6(addr: str) -> bool:
    return bool(addr) and ":" in addr and all(c in _V6_CHARS for c in addr)


def uri_default_port(uri: SipUri) -> int:
    """The port to use when the URI gives none: 5061 for sips or ;transport=tls."""
    if uri.port is not None:
        return uri.port
    if uri.scheme in ("sips", "tels") or uri.transport in ("tls", "wss"):
        return 5061
    return 5060
