"""What outbound offers other modules (Kamailio: outbound/api.h, ob_binds, ob_load_api).

rr and path bind it in their mod_init when outbound is loaded, as Kamailio's do:

    from kamapy.loader import bind_api
    obb = bind_api("outbound")             # None: outbound is not loaded
    use = obb.use_outbound(msg)            # 0 no, 1 yes (first hop: a new token),
                                           # 2 yes, the flow is the top Route's token
    token = obb.encode_flow_token(msg.rcv) # the flow the request came in on
    flow = obb.decode_flow_token(msg, token)  # Flow, or NOT_A_TOKEN (-2) / BAD_MAC (-1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .flow_token import BAD_MAC, NOT_A_TOKEN, Flow

__all__ = ["ObApi", "Flow", "BAD_MAC", "NOT_A_TOKEN"]


@dataclass(frozen=True)
class ObApi:
    encode_flow_token: Callable   # encode_flow_token(rcv) -> str
    decode_flow_token: Callable   # decode_flow_token(msg, token) -> Flow | NOT_A_TOKEN | BAD_MAC
    use_outbound: Callable        # use_outbound(msg) -> 0 / 1 / 2
    NOT_A_TOKEN: int = NOT_A_TOKEN
    BAD_MAC: int = BAD_MAC
