"""usrloc callbacks (Kamailio's ul_register_ulcb): other modules ask to hear about
contacts inserted, updated, deleted or expired. registrar hooks UL_CONTACT_EXPIRE to
run event_route[usrloc:contact-expired].

A callback is fn(domain_name, aor, contact, cb_type); it runs in the process that made
the change (a SIP worker, or the timer process for expiry), after the AOR lock is
released, so it may call back into usrloc.
"""

from __future__ import annotations

import logging

log = logging.getLogger("kamapy.usrloc")

UL_CONTACT_INSERT = 1 << 0
UL_CONTACT_UPDATE = 1 << 1
UL_CONTACT_DELETE = 1 << 2
UL_CONTACT_EXPIRE = 1 << 3

_callbacks: list[tuple[int, object]] = []
_types = 0  # union of the registered types: a change nobody asked about costs one test


def register_ulcb(types: int, fn) -> int:
    global _types
    _callbacks.append((types, fn))
    _types |= types
    return 1


def wanted(cb_type: int) -> bool:
    return bool(_types & cb_type)


def run(cb_type: int, domain: str, aor: str, contact):
    for types, fn in _callbacks:
        if types & cb_type:
            try:
                fn(domain, aor, contact, cb_type)
            except Exception:
                log.exception("usrloc callback %r failed", fn)


def clear():
    """Forget every callback (tests)."""
    global _types
    _callbacks.clear()
    _types = 0
