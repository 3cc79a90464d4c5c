"""Path (RFC 3327) for the registrar: the path vector saved with a contact, the
`received` of its first hop (path_use_received), and the next hop a lookup sends to."""

from __future__ import annotations

from urllib.parse import unquote as pct_unquote

from kamapy.sip.errors import SipParseError
from kamapy.sip.nameaddr import parse_nameaddr
from kamapy.sip.scan import split_commas, unquote
from kamapy.sip.uri import parse_uri

from .errors import RegError


def build_path_vector(msg) -> tuple[str, str]:
    """(path vector: every Path value joined by ",", received of the first Path URI).
    Raises RegError(R_PARSE_PATH) on a bad Path."""
    hfs = msg.get_headers("Path")
    if not hfs:
        return "", ""
    path = ",".join(hf.value for hf in hfs)
    try:
        first = msg.paths[0]
        uri = parse_uri(first.uri)
    except (SipParseError, IndexError):
        raise RegError("R_PARSE_PATH") from None
    received = uri.param("received") or ""
    return path, pct_unquote(unquote(received), encoding="latin-1") if received else ""


def path_dst_uri(path: str) -> str:
    """The URI of a stored path vector's first hop: where a lookup sends the request."""
    spans = split_commas(path)
    if not spans:
        return ""
    s, e = spans[0]
    try:
        return parse_nameaddr(path[s:e]).uri
    except SipParseError:
        return ""


def skip_first_hop(path: str) -> str:
    """The path without its first element (path_check_local when the first hop is us)."""
    spans = split_commas(path)
    if len(spans) < 2:
        return ""
    return path[spans[1][0]:]
