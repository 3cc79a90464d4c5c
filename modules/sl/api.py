"""What sl offers other modules (Kamailio: sl.h struct sl_api, sl_load_api / bind_sl).

A module binds it once, in its mod_init or on first use, after checking sl is loaded:

    from kamapy.loader import bind_api
    slb = bind_api("sl")
    slb.freply(msg, 404, "Not Found")       # stateful when tm has a transaction (send_reply)
    slb.sreply(msg, 404, "Not Found")       # always stateless (sl_send_reply)
    slb.register_cb(slb.SLCB_REPLY_READY, fn)   # fn(request, code, extra_headers)

The other direction is sl's own: with modparam bind_tm (on by default) sl binds tm's API
in its mod_init and freply() answers through tm's t_reply when the request has a
transaction, as Kamailio's sl_bind_tm does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# sl callback types (Kamailio: sl.h)
SLCB_REPLY_READY = 1 << 0   # a stateless reply is about to leave: fn(request, code, extra)
SLCB_ACK_FILTERED = 1 << 1  # an ACK to one of sl's replies was absorbed: fn(ack, 0, "")


@dataclass(frozen=True)
class SlApi:
    sreply: Callable       # sreply(msg, code, reason) -> 1 / -1: a stateless reply
    freply: Callable       # freply(msg, code, reason): send_reply(), stateful with a transaction
    register_cb: Callable  # register_cb(types, fn)
    SLCB_REPLY_READY: int = SLCB_REPLY_READY
    SLCB_ACK_FILTERED: int = SLCB_ACK_FILTERED
