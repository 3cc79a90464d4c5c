"""One request in, one reply out — what the FIFO and datagram transports share
(Kamailio: jsonrpc_exec_ex).

Two request members beyond JSON-RPC, as in Kamailio:
  "reply_name"  (FIFO only, required) the reply FIFO's file name inside
                fifo_reply_dir; no '.', '/' or '\\' allowed;
  "store_path"  write the reply to this file and answer {"result": "Stored"}.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from kamapy.rpc import dispatch_object, encode
from kamapy.rpc.dispatch import RequestParseError, parse_request, reply
from kamapy.rpc.errors import PARSE_ERROR, error_object

log = logging.getLogger("kamapy.jsonrpcs")

# the exact texts Kamailio answers for store_path
STORED = '{\n"jsonrpc": "2.0",\n\t"result": "Stored",\n\t"id": %s\n}'
STORE_FAILED = ('{\n"jsonrpc": "2.0",\n\t"error": {\n\t\t"code": 500,\n\t\t"message": '
                '"Storing failed"\n\t},\n\t"id": %s\n}')


@dataclass
class Exchange:
    body: bytes | None = None          # the reply to send; None: send nothing
    reply_name: str | None = None      # FIFO: where to send it
    deferred: list = field(default_factory=list)


def valid_reply_name(name) -> bool:
    return isinstance(name, str) and bool(name) and not any(c in name for c in "./\\")


def _stored_id(request) -> str:
    rid = request.get("id") if isinstance(request, dict) else None
    if isinstance(rid, str):
        return '"' + rid.replace('"', '\\"') + '"'
    if isinstance(rid, (int, float)) and not isinstance(rid, bool):
        return str(int(rid))
    return "0"


def handle(data: bytes, transport: str, pretty: bool = True, fifo: bool = False) -> Exchange:
    ex = Exchange()
    try:
        request = parse_request(data)
    except RequestParseError as e:
        log.error("invalid JSON-RPC document from %s: %s", transport, e)
        if not fifo:  # a datagram client can be told; a FIFO one has no reply_name to use
            ex.body = encode(reply(error=error_object(PARSE_ERROR), req_id=None), pretty)
        return ex
    if fifo:
        name = request.get("reply_name") if isinstance(request, dict) else None
        if not valid_reply_name(name):
            log.error("FIFO request without a usable reply_name: %r", name)
            return ex
        ex.reply_name = name
    response = dispatch_object(request, transport=transport, deferred=ex.deferred)
    ex.body = encode(response, pretty)
    store_path = request.get("store_path") if isinstance(request, dict) else None
    if isinstance(store_path, str) and store_path:
        try:
            with open(store_path, "wb") as f:
                f.write(ex.body)
            ex.body = (STORED % _stored_id(request)).encode()
        except OSError as e:
            log.error("cannot write to file: %s (%s)", store_path, e.strerror)
            ex.body = (STORE_FAILED % _stored_id(request)).encode()
    return ex
