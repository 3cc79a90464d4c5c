"""What tm offers other modules (Kamailio: tm_load.h struct tm_binds, load_tm_api).

A module binds it in its mod_init, after checking tm is loaded, and keeps it in a
module global (a hot path reads tmb.fn, no lookup per message):

    from kamapy.loader import bind_api
    tmb = bind_api("tm")
    tmb.define("mymod.reply", on_reply)                 # before the fork
    tmb.register_global(TMCB_REQUEST_IN, on_new)        # every new transaction
    tmb.register_tmcb(t_or_msg, TMCB_RESPONSE_OUT, "mymod.reply")

The data a binder reads are declared here too, as Kamailio's modules include tm's
t_hooks.h and dialog.h: the callback types (TMCB_*, callbacks.py), the dialog a local
request is built from (LocalDialog, Kamailio's dlg_t) and the flags of a transaction's
public fields (T_*, transaction.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import callbacks as _cb
from .callbacks import (
    PENDING_KEY,
    TMCB_DESTROY,
    TMCB_DONT_ACK,
    TMCB_E2EACK_IN,
    TMCB_LOCAL_COMPLETED,
    TMCB_LOCAL_RESPONSE_IN,
    TMCB_ON_FAILURE,
    TMCB_REQUEST_IN,
    TMCB_RESPONSE_IN,
    TMCB_RESPONSE_OUT,
)
from .t_uac import DEFAULT_CSEQ, LocalDialog
from .transaction import T_LOCAL_REPLY

__all__ = [
    "TmApi", "make", "PENDING_KEY", "TMCB_DESTROY", "TMCB_DONT_ACK", "TMCB_E2EACK_IN",
    "TMCB_LOCAL_COMPLETED", "TMCB_LOCAL_RESPONSE_IN", "TMCB_ON_FAILURE", "TMCB_REQUEST_IN",
    "TMCB_RESPONSE_IN", "TMCB_RESPONSE_OUT", "DEFAULT_CSEQ", "LocalDialog", "T_LOCAL_REPLY",
]


@dataclass(frozen=True)
class TmApi:
    define: Callable            # define(name, fn, lazy=False): bind a callback name in this process
    register_tmcb: Callable     # register_tmcb(t_or_msg, types, name, param=None)
    register_tmcb_req: Callable  # register_tmcb_req(msg, ...): on msg's transaction, made or to come
    register_global: Callable   # register_global(TMCB_REQUEST_IN, fn)
    t_uac: Callable             # t_uac(method, headers, body, dlg, cb=, cbp=, cb_types=): a local request (t_uac.py)
    t_request: Callable         # t_request(method, ruri, to, from_, ...): outside any dialog
    t_request_within: Callable  # t_request_within(method, headers, body, dlg, ...): inside one
    has_transaction: Callable   # has_transaction(msg): the request has one (sl's t_gett check)
    t_reply: Callable           # t_reply(msg, code, reason): a stateful reply (sl's send_reply)
    t_gett: Callable            # t_gett(msg): the transaction the script works on for msg, or None
    t_picked: Callable          # t_picked(msg): (branch, reply) of failure/onreply_route (t_get_picked_branch)
    t_lookup_key: Callable      # t_lookup_key(msg, method): the transaction msg's Via/CSeq name, or None
    t_uas_request: Callable     # t_uas_request(t): the request as t keeps it (t->uas.request)
    t_tid: Callable             # t_tid(msg): (tid, key) tm gives the request's transaction
    t_branch_id: Callable       # t_branch_id(tid, index): the Via branch of that branch
    TMCB_REQUEST_IN: int = TMCB_REQUEST_IN
    TMCB_RESPONSE_IN: int = TMCB_RESPONSE_IN
    TMCB_RESPONSE_OUT: int = TMCB_RESPONSE_OUT
    TMCB_ON_FAILURE: int = TMCB_ON_FAILURE
    TMCB_DESTROY: int = TMCB_DESTROY


def make() -> TmApi:
    from .context import t_gett, t_picked
    from .functions import has_transaction, stateful_send_reply
    from .matching import our_branch, request_tid
    from .relay import lookup_key
    from .script import restore_request
    from .t_uac import t_request, t_request_within, t_uac
    return TmApi(define=_cb.define, register_tmcb=_cb.register,
                 register_tmcb_req=_cb.register_req, register_global=_cb.register_global,
                 t_uac=t_uac, t_request=t_request, t_request_within=t_request_within,
                 has_transaction=has_transaction, t_reply=stateful_send_reply,
                 t_gett=t_gett, t_picked=t_picked, t_lookup_key=lookup_key,
                 t_uas_request=restore_request, t_tid=request_tid, t_branch_id=our_branch)
