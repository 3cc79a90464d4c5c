"""nat_traversal: NAT detection, Contact fixing and keepalives for NAT endpoints
(Kamailio: modules/nat_traversal, 5.6 README).

  nat_tests.py          client_nat_test(type)
  contact_fix.py        fix_contact()
  conditions.py         nat_keepalive() and the sl / tm reply callbacks that start and
                        end the registration, subscription and dialog conditions
  dialog_bind.py        dialog conditions bound to the dialog module's dialogs
  endpoints.py          the shared table of NAT endpoints and their conditions
  keepalive_request.py  the keepalive NOTIFY / OPTIONS
  keepalive_timer.py    sends the keepalives, purges, statistics
  state_file.py         keepalive_state_file: save and restore
  pvs.py                $source_uri, $keepalive.socket(endpoint)
"""

from __future__ import annotations

import logging

from kamapy.module import (
    ANY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
)

from . import conditions, dialog_bind, endpoints, keepalive_timer, state_file
from .contact_fix import fix_contact
from .keepalive_request import KeepaliveBuilder
from .nat_tests import client_nat_test
from .pvs import PVS

log = logging.getLogger("kamapy.nat_traversal")

STATS = ["keepalive_endpoints", "registered_endpoints", "subscribed_endpoints", "dialog_endpoints"]

_builder: list[KeepaliveBuilder | None] = [None]


def _state_path() -> str | None:
    p = exports.param("keepalive_state_file")
    return p or None


def _reply_filter(msg) -> bool:
    """Kamailio's response_f (reply_filter): the replies to our keepalives stop here."""
    b = _builder[0]
    try:
        return b is not None and b.is_reply_to_ours(msg)
    except Exception:  # a reply too broken to read is not ours to judge
        return False


def mod_init():
    from kamapy.loader import bind_api, loaded
    from kamapy.runtime import rt
    from kamapy.timer import register_timer

    interval = exports.param("keepalive_interval")
    if interval <= 0:
        log.info("keepalive functionality is disabled from the configuration")
        conditions.setup(True, exports.param("contact_match"))
        return 0
    if not loaded("sl") or not loaded("tm"):
        log.error("nat_traversal: keepalive needs the sl and tm modules loaded")
        return -1
    slb = bind_api("sl")
    tmb = bind_api("tm")
    method = exports.param("keepalive_method") or "NOTIFY"
    from_uri = exports.param("keepalive_from")
    if from_uri is not None and from_uri == "":
        log.warning("ignoring empty keepalive_from parameter")
        from_uri = None
    _builder[0] = KeepaliveBuilder(method, from_uri, exports.param("keepalive_extra_headers") or "")
    endpoints.create()
    if not dialog_bind.setup():
        log.info("keeping alive dialogs follows tm, since the dialog module is not loaded")
    conditions.setup(False, exports.param("contact_match"))
    path = _state_path()
    if path:
        n = state_file.restore(path, {str(si) for si in rt.sockets})
        if n:
            log.info("restored %d keepalive endpoints from %s", n, path)
    if interval < 10:
        log.warning("keepalive_interval should be at least 10 seconds")
        log.info("using 10 seconds for keepalive_interval")
        interval = 10
    keepalive_timer.setup(interval, _builder[0], path)
    slb.register_cb(slb.SLCB_REPLY_READY, conditions.sl_reply_out)
    conditions.bind_tm(tmb)  # tm's TMCB_REQUEST_IN, then TMCB_RESPONSE_OUT per transaction
    keepalive_timer.update_stats(endpoints.snapshot())
    register_timer("nat_traversal", 1.0, keepalive_timer.tick)
    return 0


def destroy():
    path = _state_path()
    if path and endpoints.table() is not None:
        state_file.save(path)


def _check():
    m = exports.param("keepalive_method")
    if m is not None and (not m or not m.replace("-", "").isalnum()):
        return [("keepalive_method", "keepalive_method must be a SIP method name (NOTIFY, OPTIONS ...)")]
    extra = exports.param("keepalive_extra_headers") or ""
    if extra and not extra.endswith("\r\n"):
        return [("keepalive_extra_headers", "each extra header must end with \\r\\n")]
    return []


def _w_keepalive(msg) -> int:
    return conditions.nat_keepalive(msg)


exports = ModuleExports(
    name="nat_traversal",
    params=[
        Param("keepalive_interval", int, 60),
        Param("keepalive_method", str, "NOTIFY"),
        Param("keepalive_from", str, None),
        Param("keepalive_extra_headers", str, ""),
        Param("keepalive_state_file", str, "keepalive_state"),
        Param("contact_match", int, 0),
    ],
    functions=[
        Function("nat_keepalive", _w_keepalive, (), REQUEST_ROUTE),
        Function("fix_contact", fix_contact, (), ANY_ROUTE),
        Function("client_nat_test", client_nat_test, (Arg("igp"),), ANY_ROUTE),
    ],
    pvs=PVS,
    stats=STATS,
    mod_init=mod_init,
    destroy=destroy,
    response=_reply_filter,
    check=_check,
    doc=__doc__,
)

__all__ = ["exports"]
