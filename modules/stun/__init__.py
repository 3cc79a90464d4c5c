"""stun: STUN Binding requests answered on the SIP UDP sockets (Kamailio: modules/stun,
RFC 5389; RFC 5626 §4.4.2 keep-alives of outbound UDP flows).

Loading the module is all there is to it: no parameters, functions or RPC commands
(as Kamailio's; any modparam is refused as unknown). From then on a UDP datagram whose
first byte is 0x00 is read as STUN instead of SIP (kamapy/net/stun_in.py, the receive
loop in kamapy/server/worker.py) and answered from the socket it came in on:

    loadmodule "stun"

What the answer holds is binding.py's docstring. Over TCP/TLS/WS the SIP stream's own
keep-alives are used (CRLF ping / pong, RFC 5626 §4.4.1); STUN there is not read
(docs/differences.md D-stun-2).
"""

from __future__ import annotations

import logging

from kamapy import NAME
from kamapy.module import ModuleExports
from kamapy.net import stun_in

from .binding import answer

log = logging.getLogger("kamapy.stun")

# Kamailio's SOFTWARE value is its default Server header line, SERVER_HDR, whatever
# server_header / server_signature say; this is kamapy's default one
SOFTWARE = f"Server: {NAME}".encode()


def on_stun(data: bytes, addr, si) -> None:
    """SREV_STUN_IN: answer one datagram; bad input is dropped, never raised."""
    try:
        out = answer(data, addr[0], addr[1], SOFTWARE)
    except Exception:  # a bug here must not stop the receive loop
        log.exception("STUN message from %s:%s not answered", addr[0], addr[1])
        return
    if out is None:
        log.debug("STUN message from %s:%s too short to answer (%d bytes)", addr[0], addr[1], len(data))
        return
    try:
        si.sock.sendto(out, addr)
    except OSError as e:
        log.error("STUN answer to %s:%s not sent: %s", addr[0], addr[1], e)


def mod_init():
    stun_in.register(on_stun)
    return 0


def destroy():
    stun_in.unregister()


exports = ModuleExports(
    name="stun",
    mod_init=mod_init,
    destroy=destroy,
    doc=__doc__,
)
