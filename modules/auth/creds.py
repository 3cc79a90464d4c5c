"""Digest credentials as Kamailio 5.6's core digest parser reads them.

kamapy.sip.digest parses for the $au/$ar... PVs; authentication needs Kamailio's exact
verdicts on odd input, so this module has its own reader with the same rules:

- the scheme must be "Digest" (any case) followed by a blank, CR, LF or comma; any
  other scheme is not an error: those credentials are skipped ("unknown scheme");
- a parameter name is one of the known ten (a blank may stand before "="), anything
  else up to "=" is an unknown parameter; no "=" at all is a parse error;
- a value is a quoted string (up to the next '"': no escapes) or a token (up to a
  blank or comma); an empty token, a missing closing quote or a name with no value
  is a parse error; after a value everything up to the next comma is skipped; a
  trailing comma is a parse error; a repeated parameter keeps the last value;
- qop is auth / auth-int / other, algorithm MD5 / MD5-sess / other;
- username "user@domain" (or "sip:user@domain") gives user and domain.
"""

from __future__ import annotations

import re

from kamapy.sip.errors import SipParseError

QOP_UNSPEC, QOP_AUTH, QOP_AUTHINT, QOP_OTHER = 0, 1, 2, 4
ALG_UNSPEC, ALG_MD5, ALG_MD5SESS, ALG_OTHER = 0, 1, 2, 4

# missing-field bits of check_dig_cred (Kamailio's dig_err_t)
E_DIG_USERNAME, E_DIG_REALM, E_DIG_NONCE, E_DIG_URI, E_DIG_RESPONSE, E_DIG_CNONCE, E_DIG_NC = \
    1, 2, 4, 8, 16, 32, 64

_LWS = " \t\r\n"
_FIELDS = ("username", "realm", "nonce", "uri", "response", "cnonce", "opaque", "qop", "nc",
           "algorithm")
_KNOWN = {name: name for name in _FIELDS}


class Credentials:
    """One parsed Authorization / Proxy-Authorization value."""

    __slots__ = ("username", "user", "domain", "realm", "nonce", "uri", "response", "cnonce",
                 "opaque", "qop", "qop_parsed", "nc", "algorithm", "alg_parsed", "stale", "hf")

    def __init__(self):
        for s in self.__slots__:
            setattr(self, s, None)
        self.qop_parsed = QOP_UNSPEC
        self.alg_parsed = ALG_UNSPEC
        self.stale = False

    def missing(self) -> int:
        """check_dig_cred: the bits of the fields a response check needs but lacks."""
        res = 0
        if self.user is None:
            res |= E_DIG_USERNAME
        if self.realm is None:
            res |= E_DIG_REALM
        if self.nonce is None:
            res |= E_DIG_NONCE
        if self.uri is None:
            res |= E_DIG_URI
        if self.response is None:
            res |= E_DIG_RESPONSE
        if self.qop_parsed in (QOP_AUTH, QOP_AUTHINT):
            if self.cnonce is None:
                res |= E_DIG_CNONCE
            if self.nc is None:
                res |= E_DIG_NC
        return res


UNKNOWN_SCHEME = "unknown-scheme"


def _lstrip(s: str) -> str:
    return s.lstrip(_LWS)


def _param_name(s: str) -> tuple[str | None, str]:
    """(known field name or None, the rest starting at '='); raises on no '='.
    A known name may have blanks before its '=' ("uri ="); anything else before the
    '=' ("usernamex", "user name") makes an unknown parameter, as Kamailio reads it."""
    eq = s.find("=")
    if eq < 0:
        raise SipParseError("digest parameter without '='")
    return _KNOWN.get(s[:eq].rstrip(_LWS).lower()), s[eq:]


_TOKEN = re.compile(r"[^ \t\r\n,]*")


def parse_credentials(value: str) -> Credentials | str:
    """Credentials, or UNKNOWN_SCHEME; SipParseError for malformed digest params."""
    s = _lstrip(value)
    if len(s) < 7 or s[:6].lower() != "digest" or s[6] not in " \r\n\t,":
        return UNKNOWN_SCHEME
    s = _lstrip(s[7:])
    c = Credentials()
    vals = {}
    while True:
        name, s = _param_name(s)
        s = _lstrip(s[1:])
        if not s:
            raise SipParseError("digest parameter without a value")
        if s[0] == '"':
            if len(s) < 2:
                raise SipParseError("bad quoted digest value")
            end = s.find('"', 1)
            if end < 0:
                raise SipParseError("unterminated quoted digest value")
            val, s = s[1:end], s[end + 1:]
        else:
            i = _TOKEN.match(s).end()
            if i == 0:
                raise SipParseError("empty digest token")
            val, s = s[:i], s[i:]
        if name is not None:
            vals[name] = val
        comma = s.find(",")
        if comma < 0:
            break
        s = _lstrip(s[comma + 1:])
    for name, val in vals.items():
        setattr(c, name, val)
    if c.qop is not None:
        q = c.qop.strip(_LWS).lower()
        c.qop_parsed = QOP_UNSPEC if not q else QOP_AUTH if q == "auth" else \
            QOP_AUTHINT if q == "auth-int" else QOP_OTHER
    if c.algorithm is not None:
        a = c.algorithm.strip(_LWS).lower()
        c.alg_parsed = ALG_MD5 if a == "md5" else ALG_MD5SESS if a == "md5-sess" else ALG_OTHER
    if c.username is not None:
        user = c.username
        if len(user) > 2:
            at = user.find("@")
            if at >= 0:
                c.domain = user[at + 1:]
                user = user[:at]
            colon = user.find(":")
            if colon >= 0:
                user = user[colon + 1:]
        c.user = user
    return c


AUTHORIZATION = "authorization"
PROXY_AUTHORIZATION = "proxy-authorization"


def parsed(msg, hf) -> Credentials | str | None:
    """The header's credentials (cached on the message); None when malformed."""
    cache = msg.module_data.get("auth.creds")
    if cache is None:
        cache = msg.module_data["auth.creds"] = {}
    key = hf.start
    if key in cache:
        return cache[key]
    try:
        c = parse_credentials(hf.value)
        if isinstance(c, Credentials):
            c.hf = hf
    except SipParseError:
        c = None
    cache[key] = c
    return c


def find_credentials(msg, realm: str, hftype: str):
    """Kamailio's find_credentials: (0, creds) for the first header whose realm equals
    `realm` (any case), (1, None) when none does, (-3, None) when one is malformed."""
    for hf in msg.get_headers(hftype):
        c = parsed(msg, hf)
        if c is None:
            return -3, None
        if c is UNKNOWN_SCHEME:
            continue
        r = c.realm
        if r is not None and len(r) == len(realm) and r.lower() == realm.lower():
            return 0, c
    return 1, None
