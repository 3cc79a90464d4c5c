"""Socket options of a stream connection: TCP_NODELAY, and SO_KEEPALIVE with
tcp_keepidle / tcp_keepintvl / tcp_keepcnt when tcp_keepalive is on (default) or any
of those three is set (Kamailio forces it on then).

On Linux an accepted socket inherits these from its listening socket, so the master
sets them once on every tcp/tls listener before the fork (tune_listeners) and a
reader adopting an accepted connection skips the 2-5 setsockopt calls per connection;
connections kamapy opens itself get them one by one (tune).
"""

from __future__ import annotations

import socket
import sys

from ..runtime import rt

# set by tune_listeners() in the master; the forked readers see it
listeners_tuned = False
_options: list[tuple[int, int, int]] | None = None


def options() -> list[tuple[int, int, int]]:
    global _options
    if _options is None:
        opts = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        keepalive = getattr(rt.core, "tcp_keepalive", None)
        names = ("tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt")
        # as Kamailio's tcp_options.c: any of these set forces keepalive on
        if keepalive is None or keepalive or any(getattr(rt.core, n, None) for n in names):
            opts.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
            for name, opt in (("tcp_keepidle", "TCP_KEEPIDLE"), ("tcp_keepintvl", "TCP_KEEPINTVL"),
                              ("tcp_keepcnt", "TCP_KEEPCNT")):
                v = getattr(rt.core, name, None)
                if v and hasattr(socket, opt):
                    opts.append((socket.IPPROTO_TCP, getattr(socket, opt), int(v)))
        _options = opts
    return _options


def tune(sock) -> bool:
    try:
        for level, opt, value in options():
            sock.setsockopt(level, opt, value)
    except OSError:
        return False
    return True


def tune_listeners(socks) -> None:
    """Before the fork. Only where the inheritance is known (Linux); elsewhere the
    readers tune every accepted connection."""
    global listeners_tuned
    ok = all(tune(s) for s in socks)
    listeners_tuned = ok and sys.platform.startswith("linux")
