"""What other modules call on rr (Kamailio's rr_binds / load_rr_api):

    from kamapy_modules.rr import api as rr_api
    rr_api.record_route(msg, ";nat=yes")   # 0 ok, < 0 error
    rr_api.add_rr_param(msg, ";did=abc")
    rr_api.get_route_param(msg, "did")     # str, '' for a flag, None when absent
    rr_api.is_direction(msg, rr_api.RR_FLOW_UPSTREAM)
    rr_api.register_rrcb(callback)          # callback(msg, params, param)
    rr_api.socket_hostport(msg, si, inbound)  # a socket as a Record-Route shows it (path's Path)
    rr_api.predicted_send_socket(msg)       # the socket the request will leave from
"""

from __future__ import annotations

from .loose import RR_DRIVEN, RR_FLOW_TOKEN_BROKEN, RR_OB_DRIVEN, RR_PRELOADED, loose_route
from .record import (
    add_rr_param,
    predicted_send_socket,
    record_route,
    record_route_advertised_address,
    record_route_preset,
    record_routed,
    remove_record_route,
    socket_hostport,
)
from .route_params import (
    RR_FLOW_DOWNSTREAM,
    RR_FLOW_UPSTREAM,
    check_route_param,
    get_route_param,
    is_direction,
    register_rrcb,
    routed_params,
)
from .settings import settings

__all__ = [
    "RR_DRIVEN", "RR_OB_DRIVEN", "RR_FLOW_TOKEN_BROKEN", "RR_PRELOADED", "RR_FLOW_DOWNSTREAM", "RR_FLOW_UPSTREAM", "loose_route",
    "record_route", "record_route_preset", "record_route_advertised_address", "add_rr_param",
    "remove_record_route", "record_routed", "check_route_param", "get_route_param",
    "is_direction", "register_rrcb", "routed_params", "settings", "socket_hostport",
    "predicted_send_socket",
]
