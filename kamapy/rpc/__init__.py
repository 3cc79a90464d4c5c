"""RPC: the command registry and the JSON-RPC 2.0 dispatcher (Kamailio: rpc.h,
rpc_lookup.c, core_cmd.c, and the transport-independent half of jsonrpcs).

A handler is `handler(rpc, params) -> result`: `params` is the positional list from
the request, the result a dict / list / str / int / None (None prints as {}), and a
fault is `raise RpcError(code, message)`. Modules export commands as
`RpcCommand(name, handler, doc)`; the core's own (system.*, core.*, stats.*) are
registered here. Transports (modules/jsonrpcs) call dispatch_jsonrpc() and send
encode(reply).
"""

from .context import RpcContext
from .dispatch import call, dispatch_jsonrpc, dispatch_object, encode, is_error, run_deferred
from .errors import RpcError
from .registry import RpcRegistry, build_registry, commands

__all__ = [
    "RpcContext", "RpcError", "RpcRegistry", "build_registry", "call", "commands",
    "dispatch_jsonrpc", "dispatch_object", "encode", "is_error", "run_deferred",
]
