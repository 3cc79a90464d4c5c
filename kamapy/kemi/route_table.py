"""LazyRoutes: a route table of a KEMI config whose routes are made on first lookup.

The failure/onreply/branch/named tables (engine._Named) and the event table
(events.EventTable) both answer a name with a route(msg, ctx) calling one of the
script's functions, cached under that name; only how a name maps to a function differs,
so that part is each subclass's get() and the rest is here.
"""

from __future__ import annotations


class LazyRoutes(dict):
    def __init__(self, eng):
        super().__init__()
        self.eng = eng

    def _remember(self, key, fn: str, param=None):
        """Make, cache under key and return the route calling the script's fn
        (with param, the event name, when the callback takes one)."""
        eng = self.eng
        if param is None:
            def route(msg, ctx):
                return eng.call(fn, msg, ctx)
        else:
            def route(msg, ctx):
                return eng.call(fn, msg, ctx, param=param)
        route.kemi_name = fn
        self[key] = route
        return route

    def __getitem__(self, name):
        r = self.get(name)
        if r is None:
            raise KeyError(name)
        return r

    def __contains__(self, name):
        return self.get(name) is not None
