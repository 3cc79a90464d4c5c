"""The address-of-record of a URI, as usrloc keys it (Kamailio: registrar extract_aor):
the unescaped user, plus "@host" with use_domain (realm_prefix stripped), lower case
(only the host part when case_sensitive)."""

from __future__ import annotations

from urllib.parse import unquote

from kamapy.sip.errors import SipParseError
from kamapy.sip.uri import parse_uri

from .errors import RegError
from .settings import cfg

AOR_MAX_SIZE = 256  # Kamailio: USERNAME_MAX_SIZE + DOMAIN_MAX_SIZE + 2 bounds
USERNAME_MAX_SIZE = 64
DOMAIN_MAX_SIZE = 128

# To URIs already turned into AORs: most REGISTERs are refreshes of a known AOR. Sized
# for a registrar of tens of thousands of users (an entry is ~0.3 kB per process)
CACHE_SIZE = 32768
_cache: dict[str, tuple[str, object]] = {}


def extract_aor(uri_text: str):
    """(aor, parsed uri); raises RegError(R_AOR_PARSE / R_AOR_LEN / R_UNESCAPE)."""
    hit = _cache.get(uri_text)
    if hit is not None:
        return hit
    try:
        uri = parse_uri(uri_text)
    except SipParseError:
        raise RegError("R_AOR_PARSE") from None
    user, host = uri.user, uri.host
    if len(user) + len(host) + 2 > AOR_MAX_SIZE or len(user) > USERNAME_MAX_SIZE or len(host) > DOMAIN_MAX_SIZE:
        raise RegError("R_AOR_LEN")
    if "%" in user:
        try:
            user = unquote(user, encoding="latin-1", errors="strict")
        except UnicodeDecodeError:
            raise RegError("R_UNESCAPE") from None
    if cfg.use_domain:
        prefix = cfg.realm_prefix
        if prefix and len(prefix) < len(host) and host.startswith(prefix):
            host = host[len(prefix):]
        if cfg.case_sensitive and user:
            aor = f"{user}@{host.lower()}"
        else:
            aor = (f"{user}@{host}" if user else host).lower()
    else:
        aor = user if cfg.case_sensitive else user.lower()
    result = (aor, uri)
    # bounded: a refresh reuses the entry, a flood does not grow it. Once full it keeps
    # what it has (no churn): with more AORs than it holds a share of the refreshes
    # still hit, where clearing it leaves a cyclic refresh pattern no hit at all
    if len(_cache) < CACHE_SIZE:
        _cache[uri_text] = result
    return result


def reset_cache():
    _cache.clear()
