"""jsonrpcs' FIFO / datagram servers run in a thread of the test process, answering
from a given command table — the transports tested without a whole kamapy."""

from __future__ import annotations

import threading

from kamapy.rpc import registry as rpc_registry


class ServedTransport:
    def __init__(self, server, table, monkeypatch):
        self.server = server
        server.poll_interval = 0.05   # quick to stop at teardown
        monkeypatch.setattr(rpc_registry, "_table", table)   # what dispatch uses
        self._stop = threading.Event()
        self._thread = threading.Thread(target=server.serve, args=(self._stop.is_set,), daemon=True)

    def __enter__(self):
        self.server.create()
        self._thread.start()
        return self.server

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.server.destroy()
