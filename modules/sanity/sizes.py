"""The size checks (bit 65536 or modparam size_checks): message, headers, body, each
header, method, R-URI, From/To/Contact/Route/Path URIs against the size_* modparams
(0 turns one off). A failure sends no reply, as in Kamailio."""

from __future__ import annotations

from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import REQUEST

from .checks import FAILED, PASSED


def check_sizes(msg, limits: dict) -> int:
    try:
        return PASSED if _within(msg, limits) else FAILED
    except SipParseError:
        return FAILED


def _within(msg, limits) -> bool:
    def over(name, length):
        limit = limits.get(name, 0)
        return limit > 0 and length > limit

    if over("size_message", len(msg.data)):
        return False
    if msg.type == REQUEST:
        if over("size_ruri", len(msg.current_uri)) or over("size_method", len(msg.method)):
            return False
    elif msg.get_header("cseq") is not None and over("size_method", len(msg.cseq.method)):
        return False
    headers = msg.headers
    if any(over("size_header", hf.end - hf.start) for hf in headers):
        return False
    if over("size_from_uri", len(msg.from_hdr.uri)) or over("size_to_uri", len(msg.to_hdr.uri)):
        return False
    if over("size_body", len(msg.data) - msg.body_start):
        return False
    if over("size_headers", msg.body_start - msg.first_line_end):
        return False
    if msg.get_header("contact") is not None and any(over("size_contact_uri", len(c.uri)) for c in msg.contacts):
        return False
    for name in ("route", "record-route"):
        if any(over("size_route_uri", len(na.uri)) for na in msg.nameaddr_list(name)):
            return False
    if any(over("size_path_uri", len(na.uri)) for na in msg.paths):
        return False
    for hf in msg.get_headers("p-asserted-identity"):
        if over("size_pai_uri", len(hf.value)):
            return False
    return True
