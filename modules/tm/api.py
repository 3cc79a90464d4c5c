"""What tm offers other modules (Kamailio: tm_load.h struct tm_binds, load_tm_api).

A module binds it in its mod_init, after checking tm is loaded:

    from kamapy.loader import bind_api
    tmb = bind_api("tm")
    tmb.define("mymod.reply", on_reply)                 # before the fork
    tmb.register_global(tmb.TMCB_REQUEST_IN, on_new)    # every new transaction
    tmb.register_tmcb(t_or_msg, tmb.TMCB_RESPONSE_OUT, "mymod.reply")

The callback types are Kamailio's TMCB_* values (callbacks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import callbacks as _cb


@dataclass(frozen=True)
class TmApi:
    define: Callable            # define(name, fn): bind a callback name in this process
    register_tmcb: Callable     # register_tmcb(t_or_msg, types, name, param=None)
    register_global: Callable   # register_global(TMCB_REQUEST_IN, fn)
    t_request: Callable         # a new local request (t_uac.py)
    t_request_within: Callable  # a request inside a dialog
    has_transaction: Callable   # has_transaction(msg): the request has one (sl's t_gett check)
    t_reply: Callable           # t_reply(msg, code, reason): a stateful reply (sl's send_reply)
    TMCB_REQUEST_IN: int = _cb.TMCB_REQUEST_IN
    TMCB_RESPONSE_IN: int = _cb.TMCB_RESPONSE_IN
    TMCB_RESPONSE_OUT: int = _cb.TMCB_RESPONSE_OUT
    TMCB_ON_FAILURE: int = _cb.TMCB_ON_FAILURE
    TMCB_DESTROY: int = _cb.TMCB_DESTROY


def make() -> TmApi:
    from .functions import has_transaction, stateful_send_reply
    from .t_uac import t_request, t_request_within
    return TmApi(define=_cb.define, register_tmcb=_cb.register, register_global=_cb.register_global,
                 t_request=t_request, t_request_within=t_request_within,
                 has_transaction=has_transaction, t_reply=stateful_send_reply)
