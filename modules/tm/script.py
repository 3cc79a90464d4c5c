"""Running the script's failure_route, onreply_route and branch_route for a
transaction (Kamailio: run_failure_handlers, run_onreply_route, run_branch_route).

The transaction is "current" while the route runs (tm's functions act on it, in
memory, under the lock the caller holds), and the script state saved at relay time
is what the route sees: the request is rebuilt from its bytes with the R-URI, $du,
flags and AVPs it had when it was relayed.
"""

from __future__ import annotations

import logging

from kamapy.runtime import rt

from .context import cur
from .transaction import Transaction
from .uas import request_msg

log = logging.getLogger("kamapy.tm")


def find_route(kind: str, name: str):
    routes = rt.routes
    if routes is None or not name:
        return None
    table = getattr(routes, kind, None)
    if table is None:
        return None
    return table.get(name)


def restore_request(t: Transaction):
    """The request as failure_route sees it: lumps of request_route applied, R-URI,
    $du, flags and AVPs as at relay time, no extra branches."""
    msg = request_msg(t, lumped=True)
    if t.new_uri is not None:
        msg.set_ruri(t.new_uri)
    msg.dst_uri = t.dst_uri
    msg.flags = t.mflags
    msg.ruri_bflags = t.bflags
    msg.avps = t.avps
    msg.xavps = t.xavps
    return msg


def save_script_state(t: Transaction, msg):
    """What a route changed that outlives it (flags, AVPs) goes back to the transaction."""
    t.mflags = msg.flags
    t.avps = msg.avps
    t.xavps = msg.xavps


def run_with(t: Transaction, lock: int, route, msg, route_type: int, branch: int = -1,
             reply=None, reply_code: int = 0):
    """Run `route` on msg with t current; returns the run context (None on error)."""
    from kamapy.cfg.run_context import run_route
    c = cur
    saved = (c.msg, c.txn, c.lock, c.pending, c.route, c.branch, c.reply, c.reply_code, c.searched)
    c.msg, c.txn, c.lock, c.pending = msg, t, lock, None
    c.route, c.branch, c.reply, c.reply_code, c.searched = route_type, branch, reply, reply_code, False
    try:
        run_route(route, msg, route_type)
        return msg.ctx
    except Exception:
        log.exception("error in %s for transaction %s", _kind(route_type), t.tid)
        return None
    finally:
        (c.msg, c.txn, c.lock, c.pending, c.route, c.branch, c.reply, c.reply_code,
         c.searched) = saved


def _kind(route_type: int) -> str:
    from kamapy.module import ROUTE_TYPE_NAMES
    return ROUTE_TYPE_NAMES.get(route_type, "route")
