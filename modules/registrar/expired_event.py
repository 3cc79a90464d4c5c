"""event_route[usrloc:contact-expired]: run for each contact usrloc's timer expires,
with $ulc(exp=>...) holding it (Kamailio: registrar reg_ul_expired_contact). The route
runs on a faked request, as Kamailio runs it on faked_msg."""

from __future__ import annotations

import logging

from kamapy.module import REQUEST_ROUTE
from kamapy.runtime import rt
from kamapy.sip.fmsg import next_faked_msg

from .ulc import Profile, profiles

log = logging.getLogger("kamapy.registrar")

EVENT = "usrloc:contact-expired"
EXP_PROFILE = "exp"


def event_route():
    routes = rt.routes
    if routes is None:
        return None
    return getattr(routes, "event", {}).get(EVENT)


def on_expired(table: str, aor: str, contact, _cb_type: int):
    """usrloc UL_CONTACT_EXPIRE callback."""
    route = event_route()
    if route is None:
        return
    from kamapy.cfg.run_context import run_route

    profiles[EXP_PROFILE] = Profile(aor, table, [contact])
    try:
        run_route(route, next_faked_msg(), REQUEST_ROUTE)
    except Exception:
        log.exception("event_route[%s] failed", EVENT)
