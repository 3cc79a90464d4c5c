"""Events with a KEMI engine: the modules' `event_callback` parameters.

A module runs an event by looking up `rt.routes.event.get(name)` and running what it
gets (run_route), the same for every module. With the native engine that is the
config's event_route[name]; with cfgengine "python" the Routes' event table is an
EventTable, which answers with the script function the module's parameter names, called
as Kamailio's sr_kemi_route(..., EVENT_ROUTE, &callback, &evname) calls it: the method
of the script's object, with the message and the event name (`def ksr_dialog_event(self,
msg, evname)`). So no module carries its own KEMI code; this table says which parameter
of which module names the function for an event (Kamailio 5.6's modules).

Without a KEMI engine a set event_callback does nothing, as in Kamailio (there it is a
debug line; here a start-up warning, so it is not silently ignored).
"""

from __future__ import annotations

import logging

from .route_table import LazyRoutes

log = logging.getLogger("kamapy.kemi")

# (event name, or a prefix ending in ":", module, parameter); the events kamapy's
# modules run. Not here yet, as their events are not built: sl's event_callback_fl_ack
# / _lres_sent, tm's event_callback_lres_sent, tls's and websocket's event_callback.
CALLBACK_PARAMS = (
    ("dialog:", "dialog", "event_callback"),            # dialog:start / end / failed
    ("xhttp:request", "xhttp", "event_callback"),
    ("htable:", "htable", "event_callback"),            # htable:mod-init, htable:expired:<t>
    ("tm:local-request", "tm", "event_callback"),
    ("dispatcher:", "dispatcher", "event_callback"),    # dispatcher:dst-down / dst-up
    ("uac:reply", "uac", "event_callback"),
    ("usrloc:contact-expired", "registrar", "event_callback"),
)
BRANCH_FAILURE = "tm:branch-failure:"  # t_on_branch_failure("name") names a method itself


def callback_param(event: str):
    """(module, parameter) whose value names the KEMI function for event, or None."""
    for name, module, param in CALLBACK_PARAMS:
        if event == name or (name.endswith(":") and event.startswith(name)):
            return module, param
    return None


def callback_name(event: str) -> str | None:
    """The function name the config set for event (None when unset or not loaded)."""
    from kamapy.loader import registry
    where = callback_param(event)
    if where is None or not registry.loaded(where[0]):
        return None
    exports = registry.modules[where[0]]
    value = exports.values.get(where[1])
    return str(value) if value else None


class EventTable(LazyRoutes):
    """routes.event of a KEMI config: event name -> a route(msg, ctx) calling the
    script's method (cached per name; None when the module's parameter is unset)."""

    def get(self, name, default=None):
        if not name:
            return default
        route = dict.get(self, name)
        if route is not None:
            return route
        if name.startswith(BRANCH_FAILURE):
            return self._remember(name, name[len(BRANCH_FAILURE):])
        fn = callback_name(name)
        if fn is None:
            return default
        return self._remember(name, fn, param=name)


def warn_without_engine(registry, routes) -> None:
    """The native engine: every event_callback the config set is unused; say so."""
    modules = getattr(registry, "modules", None)  # a bare function registry has no params
    if not modules:
        return
    seen = set()
    for _name, module, param in CALLBACK_PARAMS:
        if (module, param) in seen or module not in modules:
            continue
        seen.add((module, param))
        exports = modules[module]
        if not exports.values.get(param):
            continue
        pos = exports.param_pos.get(param)
        where = f"{pos.file}:{pos.line}:{pos.col}: " if getattr(pos, "file", None) else ""
        text = (f"{where}warning: modparam(\"{module}\", \"{param}\") names a KEMI function, but there "
                "is no KEMI engine (cfgengine \"python\"): it is not called, the event_route blocks run")
        routes.warnings.append(text)
        log.warning("%s", text)
