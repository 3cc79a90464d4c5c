"""Ways to reach a running kamapy's jsonrpcs: its FIFO, its datagram socket, HTTP.

Every client has `request(doc: dict) -> bytes` (the reply text as the server sent
it) and raises CtlError with a one-line reason when no server answers.
"""

from __future__ import annotations

import itertools
import os

DEFAULT_TIMEOUT = 5.0

_ids = itertools.count(1)


class CtlError(Exception):
    """A problem to show as one line, never as a traceback."""


class NoAnswer(CtlError):
    pass


def next_id() -> int:
    return os.getpid() * 1000 + next(_ids)


def make_client(kind: str, address: str, timeout: float = DEFAULT_TIMEOUT):
    if kind == "fifo":
        from .fifo import FifoClient
        return FifoClient(address, timeout)
    if kind == "socket":
        from .dgram import DgramClient
        return DgramClient(address, timeout)
    if kind == "url":
        from .http import HttpClient
        return HttpClient(address, timeout)
    raise CtlError(f"unknown transport {kind!r}")
