"""xhttp_prom: a Prometheus /metrics page (Kamailio 5.6's xhttp_prom module).

prom_dispatch() in event_route[xhttp:request] answers with the user metrics
(prom_counter / prom_gauge / prom_histogram modparams, changed by
prom_counter_reset/inc, prom_gauge_reset/set, prom_histogram_observe from any route
and by the xhttp_prom.* RPCs), then the internal statistics xhttp_prom_stats selects
("all", "group:" or one statistic's name), written as Kamailio writes them:
`<xhttp_prom_beginning><group>_<name> <value> <ms timestamp>` with '-' made '_',
no # TYPE lines, floats with six decimals, Content-Type `text/plain; version=0.0.4`.
prom_check_uri() is true when the URL is exactly /metrics. The values are in shared
memory: a worker's change shows in whichever TCP reader serves the page.
"""

from __future__ import annotations

import logging
import time

from kamapy.loader import BoundApi
from kamapy.module import (
    ANY_ROUTE,
    EVENT_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
    RpcCommand,
)

from .metrics import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    MetricStore,
    counter_inc,
    gauge_set,
    observe,
    parse_spec,
    reset,
    user_metrics_text,
)

log = logging.getLogger("kamapy.xhttp_prom")
_xhttp = BoundApi("xhttp")  # bind_xhttp: its reply path

CONTENT_TYPE = "text/plain; version=0.0.4"
PROM_URI = "/metrics"
DEFAULT_BUF = 8 * 1024 * 1024 // 3    # Kamailio: 1/3 of the pkg memory (8 MB by default)
_store: MetricStore | None = None
_KINDS = {"prom_counter": COUNTER, "prom_gauge": GAUGE, "prom_histogram": HISTOGRAM}


def _declared(skip: str | None = None, skip_index: int = -1):
    """(param, MetricDef) of every declaration made so far."""
    for pname, kind in _KINDS.items():
        for i, text in enumerate(exports.values.get(pname) or []):
            if pname == skip and i == skip_index:
                continue
            yield pname, parse_spec(text, kind)


def _validator(pname: str):
    kind = _KINDS[pname]

    def validate(text):
        d = parse_spec(text, kind)   # raises ValueError with the reason
        for _p, other in _declared():
            if other.name == d.name:
                raise ValueError(f"metric name {d.name!r} already declared")
    return validate


def mod_init():
    global _store
    from kamapy import loader
    if not loader.loaded("xhttp"):
        log.error("xhttp_prom needs the xhttp module (load it before xhttp_prom)")
        return -1
    timeout = int(exports.param("xhttp_prom_timeout"))
    if timeout < 0:
        log.error("xhttp_prom: invalid xhttp_prom_timeout %d (minutes, 0 = never)", timeout)
        return -1
    defs = [d for _p, d in _declared()]
    _store = MetricStore(defs, timeout)
    return 0


# ---------------------------------------------------------------------- page
def _stats_text(selector: str, prefix: str, ts: int) -> str | None:
    """The internal statistics part; None when one named statistic does not exist."""
    from kamapy.rpc.stats_commands import select
    if not selector:
        return ""
    if selector == "all":
        head = "\n# Kamailio whole internal statistics\n"
    elif selector.endswith(":"):
        if len(selector) == 1:
            log.error("xhttp_prom: void group for statistics: %s", selector)
            return None
        head = f"\n# Kamailio statistics for group: {selector}\n"
    else:
        head = f"\n# Kamailio statistics for: {selector}\n"
    entries = select(selector)
    if not entries and not selector.endswith(":") and selector != "all":
        log.error("xhttp_prom: stat not found: %s", selector)
        return None
    lines = [head]
    for e in entries:
        name = f"{prefix}{e.group}_{e.name}".replace("-", "_")
        lines.append(f"{name} {int(e.read()) & 0xFFFFFFFFFFFFFFFF} {ts}\n")
    return "".join(lines)


def page() -> tuple[int, str, str]:
    """(code, reason, body) of the /metrics reply."""
    prefix = exports.param("xhttp_prom_beginning")
    prefix = "" if prefix is None else str(prefix)
    ts = int(time.time() * 1000)
    body = user_metrics_text(_store, prefix, ts)
    stats = _stats_text(str(exports.param("xhttp_prom_stats") or ""), prefix, ts)
    code, reason = 200, "OK"
    if stats is None:
        code, reason = 500, "Internal Server Error"
    else:
        body += stats
    limit = int(exports.param("xhttp_prom_buf_size") or 0) or DEFAULT_BUF
    if len(body.encode("utf-8")) >= limit:
        log.error("xhttp_prom: body buffer overflow: %d (%d); raise xhttp_prom_buf_size",
                  len(body.encode("utf-8")), limit)
        return 500, "Internal Server Error", "Internal Server Error"
    return code, reason, body


def w_prom_dispatch(msg) -> int:
    if msg.rcv is None or msg.rcv.proto == 1 or not (msg.version or "").startswith("HTTP/"):
        log.debug("xhttp_prom: not an HTTP request")
        return 1
    code, reason, body = page()
    _xhttp().reply(msg, code, reason, CONTENT_TYPE, body or reason)
    return 0   # Kamailio's prom_dispatch returns 0: the route ends here


def w_prom_check_uri(msg) -> int:
    return 1 if (msg.ruri or "") == PROM_URI else -1


# ---------------------------------------------------------------------- metric functions
def _labels(values) -> tuple[str, ...]:
    return tuple(str(v) for v in values if v is not None)


def _apply(name, kind, labels, fn, what: str) -> int:
    if _store is None:
        return -1
    try:
        _store.update(str(name), kind, _labels(labels), fn)
    except LookupError as e:
        log.error("xhttp_prom: cannot %s: %s", what, e)
        return -1
    return 1


def w_counter_reset(msg, name, l0=None, l1=None, l2=None) -> int:
    return _apply(name, COUNTER, (l0, l1, l2), reset, "reset counter")


def w_gauge_reset(msg, name, l0=None, l1=None, l2=None) -> int:
    return _apply(name, GAUGE, (l0, l1, l2), reset, "reset gauge")


def _number(text, integer: bool):
    try:
        return int(str(text).strip()) if integer else float(str(text).strip())
    except ValueError:
        return None


def w_counter_inc(msg, name, number, l0=None, l1=None, l2=None) -> int:
    n = _number(number, True)
    if n is None or n < 0:
        log.error("xhttp_prom: invalid counter increment %r (a positive integer or zero)", number)
        return -1
    return _apply(name, COUNTER, (l0, l1, l2), counter_inc(n), "increase counter")


def w_gauge_set(msg, name, number, l0=None, l1=None, l2=None) -> int:
    v = _number(number, False)
    if v is None:
        log.error("xhttp_prom: invalid gauge value %r", number)
        return -1
    return _apply(name, GAUGE, (l0, l1, l2), gauge_set(v), "set gauge")


def w_histogram_observe(msg, name, number, l0=None, l1=None, l2=None) -> int:
    v = _number(number, False)
    if v is None:
        log.error("xhttp_prom: invalid histogram value %r", number)
        return -1
    return _apply(name, HISTOGRAM, (l0, l1, l2), observe(v), "observe histogram")


# ---------------------------------------------------------------------- RPC
def _rpc(kind: str, needs_number: bool):
    """The xhttp_prom.<metric>_<op> RPCs, with Kamailio's fault texts."""
    what = "counter" if kind == COUNTER else "gauge" if kind == GAUGE else "histogram"

    def handler(_rpc, params):
        from kamapy.rpc.errors import RpcError
        if not params or not str(params[0]):
            raise RpcError(400, f"required {what} identifier")
        name, rest = str(params[0]), list(params[1:])
        fn, v = reset, None
        if needs_number:
            if not rest:
                raise RpcError(400, "required number argument")
            v = _number(rest.pop(0), kind == COUNTER)
            if v is None or (kind == COUNTER and v < 0):
                raise RpcError(400, "invalid number argument")
            fn = counter_inc(v) if kind == COUNTER else gauge_set(v) if kind == GAUGE else observe(v)
        labels = tuple(str(x) for x in rest[:3])
        try:
            _store.update(name, kind, labels, fn)
        except (LookupError, AttributeError):
            detail = f" ({', '.join(labels)})" if labels else ""
            if not needs_number:
                text = f"Failed to reset {what}: {name}{detail}"
            elif kind == COUNTER:
                text = f"Failed to add {v} to counter: {name}{detail}"
            elif kind == GAUGE:   # Kamailio's words, its missing "to" without labels too
                text = f"Failed to assign {v:f} {'to ' if labels else ''}gauge: {name}{detail}"
            else:
                text = f"Failed to observe {v:f} in histogram: {name}{detail}"
            raise RpcError(500, text) from None
        return None
    return handler


def rpc_metric_list_print(_rpc, _params):
    prefix = exports.param("xhttp_prom_beginning")
    return user_metrics_text(_store, "" if prefix is None else str(prefix), int(time.time() * 1000))


_OPT = Arg("spve", optional=True)
_ROUTES = REQUEST_ROUTE | EVENT_ROUTE

exports = ModuleExports(
    name="xhttp_prom",
    params=[
        Param("xhttp_prom_buf_size", int, 0),
        Param("xhttp_prom_timeout", int, 60),
        Param("xhttp_prom_stats", str, ""),
        Param("xhttp_prom_beginning", str, "kamailio_"),
        Param("prom_counter", str, None, multi=True, validate=_validator("prom_counter")),
        Param("prom_gauge", str, None, multi=True, validate=_validator("prom_gauge")),
        Param("prom_histogram", str, None, multi=True, validate=_validator("prom_histogram")),
    ],
    functions=[
        Function("prom_dispatch", w_prom_dispatch, (), _ROUTES),
        Function("prom_check_uri", w_prom_check_uri, (), _ROUTES),
        Function("prom_counter_reset", w_counter_reset, (Arg("spve"), _OPT, _OPT, _OPT), ANY_ROUTE),
        Function("prom_gauge_reset", w_gauge_reset, (Arg("spve"), _OPT, _OPT, _OPT), ANY_ROUTE),
        Function("prom_counter_inc", w_counter_inc, (Arg("spve"), Arg("spve"), _OPT, _OPT, _OPT), ANY_ROUTE),
        Function("prom_gauge_set", w_gauge_set, (Arg("spve"), Arg("spve"), _OPT, _OPT, _OPT), ANY_ROUTE),
        Function("prom_histogram_observe", w_histogram_observe,
                 (Arg("spve"), Arg("spve"), _OPT, _OPT, _OPT), ANY_ROUTE),
    ],
    rpc=[
        RpcCommand("xhttp_prom.counter_reset", _rpc(COUNTER, False)),
        RpcCommand("xhttp_prom.counter_inc", _rpc(COUNTER, True)),
        RpcCommand("xhttp_prom.gauge_reset", _rpc(GAUGE, False)),
        RpcCommand("xhttp_prom.gauge_set", _rpc(GAUGE, True)),
        RpcCommand("xhttp_prom.histogram_observe", _rpc(HISTOGRAM, True)),
        RpcCommand("xhttp_prom.metric_list_print", rpc_metric_list_print),
    ],
    mod_init=mod_init,
    doc=__doc__,
)
