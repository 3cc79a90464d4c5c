"""Header names: the canonical key of each, and the compact forms that map to it.

Every header is indexed under its lowercase full name, so "v", "Via" and "VIA" are one
key. Compact forms: RFC 3261 §7.3.3 and the later RFCs that added their own.
"""

from .errors import SipParseError

COMPACT_FORMS = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "o": "event",            # RFC 6665
    "u": "allow-events",     # RFC 6665
    "b": "referred-by",      # RFC 3892
    "r": "refer-to",         # RFC 3515
    "x": "session-expires",  # RFC 4028
    "y": "identity",         # RFC 8224
    "n": "identity-info",    # RFC 4474
    "a": "accept-contact",   # RFC 3841
    "j": "reject-contact",   # RFC 3841
    "d": "request-disposition",  # RFC 3841
}

# Headers whose value is a comma-separated list that may be split into several
# entries (RFC 3261 §7.3.1). Others (From, To, Call-ID, CSeq, Authorization, ...)
# are never split on commas.
LIST_HEADERS = frozenset({
    "via", "contact", "route", "record-route", "path", "service-route", "allow",
    "supported", "require", "proxy-require", "unsupported", "accept", "accept-encoding",
    "accept-language", "allow-events", "content-encoding", "in-reply-to", "warning",
    "p-asserted-identity", "p-preferred-identity", "history-info", "diversion",
    "security-client", "security-server", "security-verify", "reason",
})


_KEY_CACHE: dict[str, str] = {}


def header_key(name: str) -> str:
    """The canonical key of a header name: lowercase, compact form expanded."""
    key = _KEY_CACHE.get(name)
    if key is None:
        key = name.lower()
        key = COMPACT_FORMS.get(key, key)
        if len(_KEY_CACHE) < 1024:  # bounded: names come from configs and modules
            _KEY_CACHE[name] = key
    return key


_NAME_BAD = frozenset(' \t\r\n"<>@:,;()[]{}/\\?=')


def name_key(raw: str) -> str:
    """The key of a header name as written before the colon ("Via ", "v"); raises
    SipParseError when it is not a token (RFC 3261 §25.1)."""
    name = raw.rstrip(" \t")
    if not name or any(c in _NAME_BAD for c in name) or not name.isascii():
        raise SipParseError("bad header name")
    return header_key(name)
