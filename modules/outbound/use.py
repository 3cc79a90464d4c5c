"""Does RFC 5626 processing apply to this request? (Kamailio's use_outbound.)

  - force_outbound_flag set: yes; force_no_outbound_flag set: no;
  - REGISTER: we are the first hop (one Via) and the first Contact has ;reg-id (5.6:
    `Contact: *` is not outbound; Kamailio's later versions count it with Expires: 0);
  - other requests: the top Route is ours (not a GRUU) and has ;ob -- 2 when its flow
    token names a flow other than the one the request came on (a request towards the
    UA: rr copies the token), else 1; or (without a Supported header that lacks
    `outbound`) we are the first hop and the first Contact URI has ;ob.
Answers 0 / 1 / 2.
"""

from __future__ import annotations

import logging

from kamapy.runtime import is_myself
from kamapy.sip.errors import SipParseError

from . import flow_token
from .settings import settings

log = logging.getLogger("kamapy.outbound")

DECODED_KEY = "outbound.flow"  # the top Route's token, decoded once per message


def decode_flow_token(msg, token: str):
    """Flow, NOT_A_TOKEN or BAD_MAC for `token`; the answer is kept with the message
    (Kamailio's msg->ldv.flow): the same token is asked for by rr more than once."""
    cached = msg.module_data.get(DECODED_KEY)
    if cached is not None and cached[0] == token:
        return cached[1]
    result = flow_token.decode(token)
    msg.module_data[DECODED_KEY] = (token, result)
    return result


def _single_via(msg) -> bool:
    try:
        return msg.via2 is None
    except SipParseError:
        return True  # Kamailio: a second Via it cannot parse counts as none


def _first_contact(msg):
    """The first Contact of a request with one Via (None: none, or more Vias: not a
    request from the UA itself)."""
    if not _single_via(msg):
        return None
    if msg.get_header("contact") is None:
        return None
    try:
        parsed = msg.contacts
    except SipParseError:
        log.error("parsing Contact: header body")
        return None
    return parsed.contacts[0] if parsed.contacts else None


def _register(msg) -> int:
    first = _first_contact(msg)
    if first is None:
        return 0
    return 1 if any(name.lower() == "reg-id" for name, _v in first.params) else 0


def _non_register(msg) -> int:
    try:
        routes = msg.nameaddr_list("route")
    except SipParseError:
        log.error("parsing Route: header body")
        return 0
    if routes:
        try:
            uri = routes[0].parsed_uri
        except SipParseError:
            log.error("parsing Route-URI")
            return 0
        if not is_myself(uri.host, uri.port or 5060, 0) or uri.param("gr") is not None:
            return 0
        if uri.has_param("ob"):
            flow = decode_flow_token(msg, uri.user)
            rcv = msg.rcv
            if isinstance(flow, flow_token.Flow) and (flow.src_ip != rcv.src_ip
                                                      or flow.src_port != rcv.src_port):
                return 2  # "incoming": towards the UA the token names
            return 1
    if msg.get_header("supported") is not None:
        try:
            if "outbound" not in msg.supported:
                return 0
        except SipParseError:
            pass  # Kamailio: an unparsable Supported is as none
    first = _first_contact(msg)
    if first is None:
        return 0
    try:
        return 1 if first.parsed_uri.has_param("ob") else 0
    except SipParseError:
        log.error("parsing Contact-URI")
        return 0


def use_outbound(msg) -> int:
    if not msg.is_request:
        log.error("use_outbound called for something that isn't a SIP request")
        return 0
    if settings.force_flag >= 0 and msg.flags & (1 << settings.force_flag):
        return 1
    if settings.force_no_flag >= 0 and msg.flags & (1 << settings.force_no_flag):
        return 0
    if msg.method == "REGISTER":
        return _register(msg)
    return _non_register(msg)
