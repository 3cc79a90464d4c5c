"""event_route[usrloc:contact-expired]: run for each contact usrloc's timer expires,
with $ulc(exp=>...) holding it (Kamailio: registrar reg_ul_expired_contact). The route
runs on a faked request, as Kamailio runs it on faked_msg."""

from __future__ import annotations

import logging

from kamapy.module import REQUEST_ROUTE
from kamapy.runtime import rt
from kamapy.sip.msg import RecvInfo, SipMsg

from .ulc import Profile, profiles

log = logging.getLogger("kamapy.registrar")

EVENT = "usrloc:contact-expired"
EXP_PROFILE = "exp"

FAKED_MSG = (b"OPTIONS sip:you@kamailio.org SIP/2.0\r\n"
             b"Via: SIP/2.0/UDP 127.0.0.1\r\n"
             b"From: <sip:you@kamailio.org>;tag=notag\r\n"
             b"To: <sip:you@kamailio.org>;tag=notag\r\n"
             b"Call-ID: 1\r\n"
             b"CSeq: 1 OPTIONS\r\n"
             b"Content-Length: 0\r\n\r\n")

_counter = {"id": 0}


def event_route():
    routes = rt.routes
    if routes is None:
        return None
    return getattr(routes, "event", {}).get(EVENT)


def faked_msg() -> SipMsg:
    _counter["id"] += 1
    return SipMsg(FAKED_MSG, RecvInfo(), msg_id=_counter["id"])


def on_expired(table: str, aor: str, contact, _cb_type: int):
    """usrloc UL_CONTACT_EXPIRE callback."""
    route = event_route()
    if route is None:
        return
    from kamapy.cfg.runtime import run_route

    profiles[EXP_PROFILE] = Profile(aor, table, [contact])
    try:
        run_route(route, faked_msg(), REQUEST_ROUTE)
    except Exception:
        log.exception("event_route[%s] failed", EVENT)
