"""Digest credentials and challenges (RFC 2617 / RFC 7616): Authorization,
Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate, like Kamailio's parse_credentials.

`Digest username="bob", realm="x", nonce="...", uri="sip:x", response="...", qop=auth,
nc=00000001, cnonce="..."` -> Digest(scheme="Digest", params={"username": "bob", ...}).
Names are lowercased; values lose their quotes.
"""

from __future__ import annotations

from .errors import SipParseError
from .scan import split_commas, unquote

FIELDS = ("username", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "opaque",
          "qop", "nc")


class Digest:
    __slots__ = ("scheme", "params")

    def __init__(self, scheme: str, params: dict[str, str]):
        self.scheme = scheme
        self.params = params

    def __getattr__(self, name):
        # username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc, stale ...
        if name.startswith("__"):
            raise AttributeError(name)
        return self.params.get(name)

    def get(self, name: str, default=None):
        return self.params.get(name.lower(), default)

    @property
    def user(self) -> str | None:
        """The user part of username (before '@' when the client put a domain in it)."""
        u = self.params.get("username")
        return u.split("@", 1)[0] if u else u

    @property
    def domain(self) -> str | None:
        u = self.params.get("username") or ""
        return u.split("@", 1)[1] if "@" in u else self.params.get("realm")

    def __repr__(self):
        return f"Digest({self.scheme!r}, {self.params!r})"


def parse_digest(value: str) -> Digest:
    v = value.strip()
    sp = 0
    while sp < len(v) and v[sp] not in " \t\r\n":
        sp += 1
    scheme = v[:sp]
    if not scheme or "=" in scheme:
        raise SipParseError("bad credentials: no scheme")
    params = {}
    rest = v[sp:]
    for s, e in split_commas(rest):
        item = rest[s:e]
        eq = item.find("=")
        if eq <= 0:
            raise SipParseError("bad credentials parameter")
        name = item[:eq].strip().lower()
        val = item[eq + 1:].strip()
        if not name or " " in name:
            raise SipParseError("bad credentials parameter")
        params[name] = unquote(val)
    return Digest(scheme, params)
