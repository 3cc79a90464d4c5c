"""JSON-RPC 2.0 requests in, reply objects out (Kamailio: jsonrpcs_mod.c, the part
shared by every transport).

Where Kamailio's jsonrpcs answers something, the answer has its shape exactly:
an unknown method is {"code": 500, "message": "Method Not Found"}, a fault is the
handler's code and text, a reply has "jsonrpc", then "result" or "error", then "id"
(left out when the request had none). Where Kamailio answers nothing useful — text
that is not JSON gets no reply at all, a request without "jsonrpc": "2.0" or
"method" gets an empty result — kamapy answers with the JSON-RPC 2.0 errors instead
(-32700 Parse Error, -32600 Invalid Request, -32602 Invalid Parameters), using the
texts of Kamailio's own error table. A batch (a JSON array) gets an array of replies.
"""

from __future__ import annotations

import json
import logging

from . import json_text
from .context import TRANSPORT_LOCAL, RpcContext
from .errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    UNKNOWN_METHOD,
    RpcError,
    error_object,
)

log = logging.getLogger("kamapy.rpc")

_NO_ID = object()


class RequestParseError(ValueError):
    pass


def parse_request(data) -> object:
    """The decoded JSON of a request given as bytes or str; RequestParseError if it is
    not JSON."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise RequestParseError(f"request is not UTF-8: {e}") from None
    try:
        return json.loads(data)
    except ValueError as e:
        raise RequestParseError(str(e)) from None


def reply(result=None, error: dict | None = None, req_id=_NO_ID) -> dict:
    out: dict = {"jsonrpc": "2.0"}
    if error is not None:
        out["error"] = error
    else:
        out["result"] = {} if result is None else result
    if req_id is not _NO_ID:
        out["id"] = req_id
    return out


def call(method: str, params=None, registry=None, transport: str = TRANSPORT_LOCAL,
         deferred: list | None = None):
    """Run one command and return its result; raises RpcError for a fault (an unknown
    method included). Actions the handler defers go to `deferred` for the transport
    to run after sending the reply; without that list they run at once."""
    if registry is None:
        from .registry import commands
        registry = commands()
    command = registry.lookup(method)
    if command is None:
        raise RpcError(*UNKNOWN_METHOD)
    ctx = RpcContext(method, registry, transport)
    result = command.handler(ctx, list(params or []))
    if deferred is None:
        run_deferred(ctx.deferred)
    else:
        deferred.extend(ctx.deferred)
    return {} if result is None else result


def run_deferred(actions: list):
    for action in actions:
        try:
            action()
        except Exception:
            log.exception("deferred RPC action failed")
    actions.clear()


def dispatch_object(request, registry=None, transport: str = TRANSPORT_LOCAL,
                    deferred: list | None = None):
    """The reply (a dict, or a list for a batch) to an already decoded request."""
    if isinstance(request, list):
        if not request:
            return reply(error=error_object(INVALID_REQUEST), req_id=None)
        return [dispatch_object(r, registry, transport, deferred) for r in request]
    if not isinstance(request, dict):
        return reply(error=error_object(INVALID_REQUEST), req_id=None)
    req_id = request.get("id", _NO_ID)
    if request.get("jsonrpc") != "2.0" or not isinstance(request.get("method"), str):
        return reply(error=error_object(INVALID_REQUEST), req_id=None if req_id is _NO_ID else req_id)
    params = request.get("params", [])
    if isinstance(params, dict):
        params = list(params.values())  # names are ignored, order counts (as in Kamailio)
    elif not isinstance(params, list):
        return reply(error=error_object(INVALID_PARAMS), req_id=req_id)
    method = request["method"]
    try:
        result = call(method, params, registry, transport, deferred)
    except RpcError as e:
        return reply(error=e.error_object(), req_id=req_id)
    except Exception:
        log.exception("RPC command %s failed", method)
        return reply(error=error_object(INTERNAL_ERROR), req_id=req_id)
    return reply(result, req_id=req_id)


def dispatch_jsonrpc(request, registry=None, transport: str = TRANSPORT_LOCAL,
                     deferred: list | None = None):
    """The reply object to a request given as bytes, str or a decoded object."""
    if isinstance(request, (bytes, bytearray, memoryview, str)):
        try:
            request = parse_request(request)
        except RequestParseError as e:
            log.error("invalid JSON-RPC document: %s", e)
            return reply(error=error_object(PARSE_ERROR), req_id=None)
    return dispatch_object(request, registry, transport, deferred)


def encode(response, pretty: bool = True) -> bytes:
    """A reply object as the bytes jsonrpcs would send (see json_text for the layout)."""
    return json_text.dumps(response, pretty).encode("utf-8")


def is_error(response) -> bool:
    return isinstance(response, dict) and "error" in response
