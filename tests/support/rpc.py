"""Call a running server's RPC over jsonrpcs' datagram transport (modparam
"jsonrpcs", "transport", 4 with a dgram_socket path), as kamapyctl does."""

from __future__ import annotations

import json

from kamapy.ctl.clients.dgram import DgramClient


def rpc_reply(socket_path: str, method: str, *params, timeout: float = 5.0) -> dict:
    """The whole JSON-RPC reply to `method` ({"result": ...} or {"error": {...}})."""
    doc = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params:
        doc["params"] = list(params)
    return json.loads(DgramClient(socket_path, timeout).request(doc))


def rpc_call(socket_path: str, method: str, *params, timeout: float = 5.0):
    """The result of `method`; an RPC error raises RuntimeError with the server's error."""
    reply = rpc_reply(socket_path, method, *params, timeout=timeout)
    if "error" in reply:
        raise RuntimeError(reply["error"])
    return reply.get("result")
