"""JSON-RPC over HTTP: jsonrpc_dispatch() in event_route[xhttp:request] (Kamailio:
ki_jsonrpcs_dispatch).

Kamailio's jsonrpcs binds the xhttp API; so does this (BoundApi("xhttp"), its
modules/xhttp/api.py):

    reply(msg, code: int, reason: str, content_type: str, body) -> int

and the HTTP request body in `msg.body`. Transport bit 1 (or 0, "all") turns it on.
"""

from __future__ import annotations

import logging

from kamapy import loader
from kamapy.rpc import dispatch_jsonrpc, encode, run_deferred
from kamapy.rpc.context import TRANSPORT_HTTP

from .plain_reply import status_of

log = logging.getLogger("kamapy.jsonrpcs")

CONTENT_TYPE = "application/json"

enabled = False   # set by mod_init when the transport parameter allows HTTP


_xhttp = loader.BoundApi("xhttp")  # Kamailio's jsonrpcs: xhttp_load_api


def xhttp_available() -> bool:
    return loader.loaded("xhttp") and _xhttp.bind() is not None


def jsonrpc_dispatch(msg, pretty: bool = True) -> int:
    if not enabled or not xhttp_available():
        log.error("jsonrpc over http not initialized - check transport param")
        return -1
    body = getattr(msg, "body", b"") or b""
    deferred: list = []
    response = dispatch_jsonrpc(body, transport=TRANSPORT_HTTP, deferred=deferred)
    code, text = status_of(response)
    _xhttp().reply(msg, code, text, CONTENT_TYPE, encode(response, pretty).decode("utf-8"))
    run_deferred(deferred)
    return 1
