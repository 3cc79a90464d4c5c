"""kex: Kamailio's core extensions (modules/kex): the branch/script flag functions,
setdsturi / resetdsturi / isdsturiset and is_myself (their handlers live beside the
core's in kamapy/core_functions.py), setdebug / resetdebug, pv_printf / avp_printf,
is_myhost and km_append_branch."""

from __future__ import annotations

from kamapy.core_functions import KEX_FUNCTIONS
from kamapy.module import ANY_ROUTE, BRANCH_ROUTE, FAILURE_ROUTE, REQUEST_ROUTE, Arg, Function, ModuleExports

_saved = {"debug": None}


def setdebug(msg, level) -> int:
    """Change this process's log level (Kamailio: per-process cfg debug)."""
    from kamapy import log as kamapy_log
    from kamapy.runtime import rt
    if _saved["debug"] is None:
        _saved["debug"] = getattr(rt.core, "debug", 2) if rt.core is not None else 2
    kamapy_log.set_debug(int(level))
    return 1


def resetdebug(msg) -> int:
    from kamapy import log as kamapy_log
    from kamapy.runtime import rt
    level = _saved["debug"]
    if level is None:
        level = getattr(rt.core, "debug", 2) if rt.core is not None else 2
    kamapy_log.set_debug(level)
    _saved["debug"] = None
    return 1


def pv_printf(msg, pv, text: str) -> int:
    pv.set(msg, text)
    return 1


def is_myhost(msg, text: str) -> int:
    """Like is_myself, but only the host is compared (any port, any transport)."""
    from kamapy.runtime import rt
    from kamapy.sip.errors import SipParseError
    from kamapy.sip.uri import parse_uri
    host = text
    if ":" in text and text.split(":", 1)[0].lower() in ("sip", "sips"):
        try:
            host = parse_uri(text).host
        except SipParseError:
            return -1
    h = host.strip("[]").lower()
    for si in rt.sockets:
        if h in (si.address.lower(), (si.host or "").lower(), (si.advertise_host or "").lower()):
            return 1
    return 1 if any(ahost == h for ahost, _p, _t in rt.aliases) else -1


def km_append_branch(msg, uri=None, q=None) -> int:
    from kamapy.core_functions import append_branch
    return append_branch(msg, uri, q)


exports = ModuleExports(
    name="kex",
    functions=[
        *KEX_FUNCTIONS,
        Function("setdebug", setdebug, (Arg("igp"),), ANY_ROUTE),
        Function("resetdebug", resetdebug, (), ANY_ROUTE),
        Function("pv_printf", pv_printf, (Arg("pvar"), Arg("spve")), ANY_ROUTE),
        Function("avp_printf", pv_printf, (Arg("pvar"), Arg("spve")), ANY_ROUTE),
        Function("is_myhost", is_myhost, (Arg("spve"),), ANY_ROUTE),
        Function("km_append_branch", km_append_branch,
                 (Arg("spve", optional=True), Arg("spve", optional=True)),
                 REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE),
    ],
    doc=__doc__,
)
