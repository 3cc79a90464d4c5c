"""outbound: RFC 5626 edge-proxy support (Kamailio: modules/outbound).

The module decides whether a request is an outbound one (use.py) and makes and reads
flow tokens (flow_token.py); rr and path bind its API (api.py) when it is loaded and
then put a token naming the flow a request came on into the user part of the
Record-Route / Path they add (;ob too on a Path from the first hop), and loose_route()
sends a request whose top Route carries one of our tokens down that flow: $du is the
peer address with its transport, the send socket the one it came in on (loose_route
returns 2 then). check_flow_token() tells a config whether the flow is still there.

    modparam("outbound", "force_outbound_flag", 1)       # -1: none
    modparam("outbound", "force_no_outbound_flag", 2)    # -1: none
    modparam("outbound", "flow_token_secret", "s3cr3t")  # else a random key per start

Kamailio wants the stun module for outbound over UDP (RFC 5626 §4.4.2 keep-alives are
STUN Binding requests on the SIP port): without `loadmodule "stun"` a warning at
start-up says so, as Kamailio's (modules/stun answers them).
"""

from __future__ import annotations

import logging

from kamapy.module import REQUEST_ROUTE, Function, ModuleExports, Param

from . import flow_token
from .api import ObApi
from .flow_check import check_flow_token
from .settings import settings
from .use import decode_flow_token, use_outbound

log = logging.getLogger("kamapy.outbound")

MAX_FLAG = 31


def _check_flag(value):
    if value != -1 and not 0 <= value <= MAX_FLAG:
        raise ValueError(f"bad flag value ({value}): -1 or 0..{MAX_FLAG}")


def mod_init():
    v = exports.values
    settings.force_flag = v["force_outbound_flag"]
    settings.force_no_flag = v["force_no_outbound_flag"]
    flow_token.key.set_secret(v["flow_token_secret"] or None)
    from kamapy.loader import loaded
    if not loaded("stun"):
        log.warning('"stun" module is not loaded. STUN is required to use outbound with UDP.')
    return 0


exports = ModuleExports(
    name="outbound",
    params=[
        Param("force_outbound_flag", int, -1, validate=_check_flag),
        Param("force_no_outbound_flag", int, -1, validate=_check_flag),
        Param("flow_token_secret", str, ""),
    ],
    functions=[
        Function("check_flow_token", check_flow_token, (), REQUEST_ROUTE),
    ],
    mod_init=mod_init,
    api=ObApi(encode_flow_token=flow_token.encode_rcv, decode_flow_token=decode_flow_token,
              use_outbound=use_outbound),  # bind_ob
    doc=__doc__,
)
