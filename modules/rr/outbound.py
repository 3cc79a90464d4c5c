"""rr's side of RFC 5626 (Kamailio: rr_mod.c rr_obb, record.c copy_flow_token, loose.c
process_outbound): bound to the outbound module's API in mod_init when it is loaded.

record_route*(): when outbound applies to the request, the Record-Route's user part is a
flow token -- a new one for the flow the request came on (use_outbound 1: from the UA),
or the top Route's own (2: towards the UA, so the dialog's later requests find the flow).
loose_route(): our top Route with a token naming another flow than the one the request
came on sends the request down that flow.
"""

from __future__ import annotations

import logging

from kamapy.pv.dset import ruri_mark_new
from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import PROTO_NAMES

log = logging.getLogger("kamapy.rr")


class _Binding:
    __slots__ = ("api",)

    def __init__(self):
        self.api = None  # outbound's ObApi, or None


obb = _Binding()


def bind():
    from kamapy.loader import bind_api, loaded
    obb.api = bind_api("outbound") if loaded("outbound") else None


def record_route_user(msg) -> str | None:
    """The flow token for a Record-Route's user part, '' when outbound does not apply,
    None on error."""
    api = obb.api
    if api is None:
        return ""
    use = api.use_outbound(msg)
    if use == 1:
        try:
            return api.encode_flow_token(msg.rcv)
        except ValueError as e:
            log.error("encoding outbound flow-token: %s", e)
            return None
    if use == 2:
        try:
            routes = msg.nameaddr_list("route")
            return routes[0].parsed_uri.user if routes else None
        except SipParseError:
            log.error("copying outbound flow-token: bad Route")
            return None
    return ""


def process_outbound(msg, token: str) -> int:
    """Our top Route's user part: 1 when it is a flow token naming another flow than
    this request's (then the send socket and $du are set to the flow), 0 when outbound
    is not in use, -1 for a forged token or a flow whose socket we no longer have."""
    api = obb.api
    if api is None or not token:
        return 0
    flow = api.decode_flow_token(msg, token)
    if flow == api.NOT_A_TOKEN:
        return 0
    if not hasattr(flow, "src_ip"):
        log.info("failed to decode flow token")
        return -1
    rcv = msg.rcv
    if flow.src_ip == rcv.src_ip and flow.src_port == rcv.src_port:
        return 0  # "outgoing": the request comes from the flow itself
    si = _socket(flow)
    if si is None:
        log.info("cannot find socket from flow-token")
        return -1
    msg.force_send_socket = si
    ip = f"[{flow.src_ip}]" if ":" in flow.src_ip else flow.src_ip
    msg.dst_uri = f"sip:{ip}:{flow.src_port};transport={PROTO_NAMES.get(flow.proto, 'udp')}"
    ruri_mark_new(msg)  # a new branch for t_relay
    return 1


def _socket(flow):
    from kamapy.runtime import rt
    from kamapy.sip.msg import PROTO_TCP, PROTO_TLS, PROTO_WS, PROTO_WSS
    # a WebSocket flow arrived on a tcp / tls listen socket
    proto = {PROTO_WS: PROTO_TCP, PROTO_WSS: PROTO_TLS}.get(flow.proto, flow.proto)
    for si in rt.sockets:
        if si.proto == proto and si.port == flow.local_port and si.address == flow.local_ip:
            return si
    return None
