"""One connected, non-blocking UDP socket per control-protocol node and process
(rtpengine's ng, rtpproxy's): a forked child opens its own, as the parent's would mix
the replies meant for two processes."""

from __future__ import annotations

import os
import socket
from typing import Callable


class NodeSockets:
    __slots__ = ("socks", "pid")

    def __init__(self):
        self.socks: dict[int, socket.socket] = {}
        self.pid = 0

    def reset(self) -> None:
        """Forget the sockets made in another process (after a fork)."""
        for s in self.socks.values():
            try:
                s.close()
            except OSError:
                pass
        self.socks.clear()
        self.pid = os.getpid()

    def check_pid(self) -> None:
        if self.pid != os.getpid():
            self.reset()

    def get(self, idx: int, connect: Callable[[], socket.socket | None]) -> socket.socket | None:
        """The node's socket, made by connect() (None: it logged why) on first use."""
        self.check_pid()
        s = self.socks.get(idx)
        if s is None:
            s = connect()
            if s is None:
                return None
            s.setblocking(False)
            self.socks[idx] = s
        return s
