"""What an RPC handler gets as its first argument (Kamailio: the rpc_t + context pair).

Handlers mostly ignore it; it tells them which command and transport they run for,
gives them the command registry (system.listMethods needs it), and lets them defer an
action until the reply has been sent (core.kill must not kill the process that still
has to answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

TRANSPORT_LOCAL = "local"    # called in-process (tests, jsonrpc_exec from the config)
TRANSPORT_FIFO = "fifo"
TRANSPORT_DGRAM = "dgram"
TRANSPORT_HTTP = "http"


@dataclass
class RpcContext:
    method: str
    registry: Any
    transport: str = TRANSPORT_LOCAL
    deferred: list[Callable[[], None]] = field(default_factory=list)

    def defer(self, action: Callable[[], None]):
        """Run `action` once the reply is out (at once when there is no transport)."""
        self.deferred.append(action)
