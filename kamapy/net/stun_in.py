"""Kamailio's SREV_STUN_IN event (core/stun.c, udp_server.c): the one callback that
takes a UDP datagram whose first byte is 0x00 instead of the SIP parser.

No SIP message starts with 0x00 (a request starts with a method token, a reply with
"SIP/"), a STUN message always does (its two top bits are zero and every STUN method
kamapy could see has a type below 0x0100). Only the stun module registers, in its
mod_init before the fork; the UDP receive loop (server/worker.py) looks at `handler`
once when it starts, so with no module the loop is the plain SIP one.

The handler is called as handler(data, addr, si): the datagram, the recvfrom address
and the SocketInfo it came on; it answers on si.sock itself and must not raise.
"""

from __future__ import annotations

handler = None


def register(fn) -> None:
    """Kamailio keeps one SREV_STUN_IN callback: a second is refused."""
    global handler
    if handler is not None and handler is not fn:
        raise RuntimeError("a STUN receive handler is registered already")
    handler = fn


def unregister() -> None:
    global handler
    handler = None
