"""check_flow_token(): is the top Route's flow token ours, and is its flow still there?
(Kamailio added it to outbound after 5.6 -- docs/differences.md D-outbound-2.) With it a
config answers 430 Flow Failed at once for a flow whose connection is gone (RFC 5626
§5.3), instead of letting the branch time out (the 5.6 edge example's failure_route).

Return codes (Kamailio's):
   1  the token is valid and its flow usable (UDP; a stream whose connection is open)
  -1  no Route header           -2  the top Route is not ours
  -3  no flow token in it       -4  a token that does not decode (forged / foreign)
  -5  its connection is gone    -7  the Route header does not parse
"""

from __future__ import annotations

import logging

from kamapy.runtime import is_myself
from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import PROTO_TCP, PROTO_TLS, PROTO_UDP, PROTO_WS, PROTO_WSS

from . import flow_token
from .use import decode_flow_token

log = logging.getLogger("kamapy.outbound")

FLOW_OK = 1
NO_ROUTE = -1
NOT_MYSELF = -2
NO_TOKEN = -3
DECODE_ERROR = -4
NO_CONNECTION = -5
ROUTE_PARSE = -7

STREAMS = (PROTO_TCP, PROTO_TLS, PROTO_WS, PROTO_WSS)


def connection_open(flow) -> bool:
    """Does this server hold a connection from the flow's peer address?"""
    from kamapy.net import tcp_state
    st = tcp_state.state
    if st is None:
        return False
    conid = st.find(flow.proto, flow.src_ip, flow.src_port)
    return bool(conid) and st.record(conid) is not None


def check_flow_token(msg) -> int:
    try:
        routes = msg.nameaddr_list("route")
        if not routes:
            return NO_ROUTE
        uri = routes[0].parsed_uri
    except SipParseError:
        return ROUTE_PARSE
    if not is_myself(uri.host, uri.port or 0, 0):
        return NOT_MYSELF
    flow = decode_flow_token(msg, uri.user)
    if flow == flow_token.NOT_A_TOKEN:
        return NO_TOKEN
    if not isinstance(flow, flow_token.Flow):
        return DECODE_ERROR
    if flow.proto in STREAMS:
        if not connection_open(flow):
            log.debug("no connection from %s:%d any more", flow.src_ip, flow.src_port)
            return NO_CONNECTION
        return FLOW_OK
    if flow.proto == PROTO_UDP:
        return FLOW_OK
    return DECODE_ERROR
