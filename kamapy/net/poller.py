"""A thin epoll for the TCP readers: selectors' interface cut to what they use
(register / modify / unregister / select -> [(data, mask)]), keyed by descriptor.

selectors.EpollSelector costs a SelectorKey, a file-object look-up and a fileno()
call for every register, unregister and ready event; with a connection per call
that is paid several times per request. Masks are selectors' EVENT_READ/EVENT_WRITE,
and an error or hang-up reports both, as EpollSelector does, limited to what was
asked for.
"""

from __future__ import annotations

import math
import select
from selectors import EVENT_READ, EVENT_WRITE

_TO_EPOLL = {EVENT_READ: select.EPOLLIN, EVENT_WRITE: select.EPOLLOUT,
             EVENT_READ | EVENT_WRITE: select.EPOLLIN | select.EPOLLOUT}
_NOT_IN = ~select.EPOLLIN
_NOT_OUT = ~select.EPOLLOUT


class Poller:
    __slots__ = ("ep", "data", "events")

    def __init__(self):
        self.ep = select.epoll()
        self.data: dict[int, object] = {}
        self.events: dict[int, int] = {}

    def register(self, fd: int, events: int, data) -> None:
        self.ep.register(fd, _TO_EPOLL[events])
        self.data[fd] = data
        self.events[fd] = events

    def modify(self, fd: int, events: int, data) -> None:
        self.ep.modify(fd, _TO_EPOLL[events])
        self.data[fd] = data
        self.events[fd] = events

    def unregister(self, fd: int) -> None:
        """KeyError when fd is not registered, like selectors."""
        del self.data[fd]
        del self.events[fd]
        try:
            self.ep.unregister(fd)
        except (OSError, ValueError):   # closed already: the kernel dropped it
            pass

    def select(self, timeout: float) -> list[tuple[object, int]]:
        # epoll counts milliseconds: round up so a short timeout is not a busy loop
        ready = self.ep.poll(math.ceil(timeout * 1e3) * 1e-3, max(len(self.data), 1))
        out = []
        data, events = self.data, self.events
        for fd, ev in ready:
            want = events.get(fd)
            if want is None:
                continue
            mask = (EVENT_WRITE if ev & _NOT_IN else 0) | (EVENT_READ if ev & _NOT_OUT else 0)
            mask &= want
            if mask:
                out.append((data[fd], mask))
        return out

    def close(self) -> None:
        self.ep.close()
