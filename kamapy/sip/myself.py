"""Is a URI one of ours? (Kamailio's core check_self_uri: host, port and transport
against the listen sockets and aliases.) rr, dialog and siputils ask it."""

from __future__ import annotations

from kamapy.runtime import is_myself
from kamapy.sip.msg import PROTO_IDS, PROTO_TLS


def uri_is_myself(uri) -> bool:
    """`uri` is a parsed SipUri."""
    if uri.scheme in ("tel", "tels"):
        return False
    proto = PROTO_IDS.get(uri.transport, 0) if uri.transport else 0
    port = uri.port or 0
    if not port and (uri.secure or proto == PROTO_TLS):
        port = 5061
    # any transport, as Kamailio's rr (check_self(..., 0) "match all protos"): a
    # Record-Route of a WebSocket side says transport=ws on a tcp or tls socket
    return is_myself(uri.host, port, 0)
