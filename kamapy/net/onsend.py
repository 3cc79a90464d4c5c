"""onsend_route (Kamailio: onsend.c run_onsend): the script's last look at a request
just before it leaves -- a stateless forward() or a tm branch, never a retransmission
or a CANCEL/ACK tm builds. `drop` there stops the send. Replies go through it only
with the core param onsend_route_reply (a forwarded reply, not a local one).

$snd/$sndto/$sndfrom read ctx.send, ctx.send_socket and ctx.send_buf of the run
context the route gets; the message's own context is put back afterwards, since the
route that called forward()/t_relay() goes on with it.
"""

from __future__ import annotations

import logging
import socket

from ..module import ONSEND_ROUTE
from ..runtime import rt

log = logging.getLogger("kamapy.net")

def onsend_route(is_reply: bool = False):
    """The compiled onsend_route when it must run for this send, else None (the one
    check a send without onsend_route pays)."""
    route = getattr(rt.routes, "onsend", None)  # rt.routes: None before the config is compiled
    if route is None or (is_reply and not getattr(rt.core, "onsend_route_reply", 0)):
        return None
    return route


def run_onsend(route, msg, proto: int, ip: str, port: int, af: int, si, buf: bytes) -> bool:
    """Run onsend_route for msg going to ip:port from socket si with bytes buf; False
    when the route dropped it (Kamailio: drop, i.e. a 0 return with the drop flag)."""
    from ..cfg.run_context import DROP, RunContext
    ctx = RunContext(ONSEND_ROUTE, rt.routes)
    ctx.send = (ip, port, proto, 6 if af == socket.AF_INET6 else 4)
    ctx.send_socket = si
    ctx.send_buf = buf.decode("latin-1")
    saved = msg.ctx
    msg.ctx = ctx
    try:
        rc = route(msg, ctx)
    except Exception:
        log.exception("error in onsend_route; sending the message anyway")
        return True
    finally:
        msg.ctx = saved
    return not (rc == 0 and ctx.flags & DROP)
