"""Where a request goes next, as Kamailio's forward_request (core/forward.c) and
the FORWARD_T action (core/action.c) pick it.

- next_hop(): $du if set, else the current R-URI; maddr wins over the host; the
  transport comes from ;transport=, else TLS for sips:, else UDP; the port from the
  URI, else 5061 for TLS/WSS and 5060 otherwise. No DNS here: a name is returned as is.
"""

from __future__ import annotations

from .errors import SipParseError
from .msg import SipMsg
from .uri import parse_uri

TRANSPORTS = ("udp", "tcp", "tls", "sctp", "ws", "wss")


def next_hop(msg: SipMsg) -> tuple[str, str, int]:
    """(proto, host, port) to send a request to: $du, else the current R-URI."""
    uri = parse_uri(msg.dst_uri) if msg.dst_uri else msg.parsed_ruri
    return uri_hop(uri)


def uri_hop(uri) -> tuple[str, str, int]:
    """(proto, host, port) a URI routes to; asked several times per relayed request
    (tm, the resolver, the Via), so kept on the URI object, which nothing changes."""
    hop = uri._hop
    if hop is None:
        hop = uri._hop = _uri_hop(uri)
    return hop


def _uri_hop(uri) -> tuple[str, str, int]:
    if uri.scheme in ("tel", "tels"):
        raise SipParseError("cannot route to a tel: URI", None)
    proto = uri.transport
    if proto:
        if proto not in TRANSPORTS:
            raise SipParseError(f"unsupported transport {proto!r}", None)
        if uri.secure and proto == "udp":
            raise SipParseError("sips: URI with transport=udp", None)
        if uri.secure and proto == "tcp":
            proto = "tls"
    else:
        proto = "tls" if uri.secure else "udp"
    host = uri.maddr or uri.host
    if host[:1] == "[":
        host = host[1:-1]
    port = uri.port if uri.port is not None else (5061 if proto in ("tls", "wss") else 5060)
    return proto, host, port


__all__ = ["next_hop", "uri_hop", "TRANSPORTS"]
