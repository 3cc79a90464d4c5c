"""The per-message script run: Kamailio's run_act_ctx and run_top_route.

Control flow is a flags word on the run context, checked after every statement
(Kamailio's run_flags), not Python exceptions:

  EXIT    stop the whole script: `exit`, `drop`, `return 0`, a function returning 0
  RETURN  stop the current route; route(X) absorbs it in its caller
  BREAK   stop the current block; switch, while and route(X) absorb it
  DROP    set with EXIT by `drop`: the caller must not send/forward the message
"""

from __future__ import annotations

EXIT = 1
RETURN = 2
BREAK = 4
DROP = 8


class RunContext:
    """msg.ctx while a route runs. last_rc is $rc / $retcode / $?."""

    # send_socket / send_buf: set (with send) only for onsend_route (kamapy.net.onsend);
    # left unset otherwise so a plain run pays nothing for them
    __slots__ = ("route_type", "last_rc", "flags", "depth", "send", "routes",
                 "send_socket", "send_buf")

    def __init__(self, route_type: int = 1, routes=None):
        self.route_type = route_type
        self.last_rc = 0
        self.flags = 0
        self.depth = 0
        self.send = None      # onsend_route: (ip, port, proto, af) the message goes to
        self.routes = routes  # the Routes being run (route($var(x)) looks names up here)

    @property
    def dropped(self) -> bool:
        return bool(self.flags & DROP)

    @property
    def exited(self) -> bool:
        return bool(self.flags & EXIT)

    def __repr__(self):
        return f"<RunContext type={self.route_type} rc={self.last_rc} flags={self.flags}>"


def run_route(route, msg, route_type: int = 1, ctx: RunContext | None = None) -> int:
    """Run a compiled route on msg with a fresh context (left in msg.ctx); returns the
    script's final code. Read msg.ctx.dropped afterwards for `drop`."""
    if ctx is None:
        ctx = RunContext(route_type)
    msg.ctx = ctx
    if route is None:
        return 1
    return route(msg, ctx)
