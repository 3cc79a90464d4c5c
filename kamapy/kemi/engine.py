"""The Python config engine (Kamailio: cfgengine "python", app_python3's KEMI engine).

The config's `cfgengine "python"` makes compile_routes return kemi_routes(): a Routes
whose every route is a small callable(msg, ctx) handing the message to the script's
object, so the receive path, tm and onsend run it exactly where they run a compiled
route. Which method runs (as sr_kemi_config_engine_python does):

  request_route         ksr_request_route(msg)
  reply_route           the core param kemi.reply_route_callback (ksr_reply_route)
  onsend_route          kemi.onsend_route_callback (ksr_onsend_route)
  failure/onreply/branch/branch_failure routes: the method named by t_on_failure("name")...
  event routes: the method a module's event_callback parameter names, with the
                        event name (events.py)

A method the object lacks is a no-op, except ksr_request_route (logged as an error).
The method's return value is not used, as in Kamailio: scripts return -255 among
themselves to mean "exit"; KSR.x.exit() / KSR.x.drop() (or sys.exit()) stop the
callback, and drop marks the message dropped.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
import types

from kamapy.cfg.run_context import DROP, EXIT

from .ksr import KemiExit, env
from .route_table import LazyRoutes

log = logging.getLogger("kamapy.kemi")

ENGINES = ("python",)  # Kamailio 5.6's app_python and app_python3 register this name


class ScriptError(Exception):
    """The script failed to load or its mod_init failed; .text has the traceback."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class Engine:
    """The loaded script: its module and the object mod_init() returned."""

    def __init__(self):
        self.path: str | None = None
        self.mod_init_name = "mod_init"
        self.child_init_name = "child_init"
        self.module = None
        self.handler = None
        self.rank = 0
        self.version = 0       # the reload generation this process runs
        self.reload_counter = None  # shm counter the RPC bumps (kamapy.mem.counters)
        self.reply_cb = "ksr_reply_route"
        self.onsend_cb = "ksr_onsend_route"
        self.reply_route = self.onsend_route = None  # the Routes' callables (kemi_routes)
        self.request_fn = None  # handler.ksr_request_route, bound once per load
        self.waiting = []       # when_loaded functions

    # ------------------------------------------------------------ loading
    def load(self, path: str):
        """Import the script and run its mod_init; returns (module, handler) or raises
        ScriptError with the traceback. Nothing of the running script is touched."""
        ksr_install()
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in sys.path:
            # as Kamailio: the script may import its siblings; last, so a sibling never
            # shadows a real package (a kamapy.py script is not the kamapy package)
            sys.path.append(folder)
        # a private module name: the script's own (kamapy.py ...) may be a package's
        name = "_kemi_script_" + (os.path.splitext(os.path.basename(path))[0] or "handler")
        try:
            # compiled from the source every time, no bytecode cache: a script rewritten
            # within the same second (same size) must not load its old .pyc on reload
            with open(path, "rb") as f:
                source = f.read()
            module = types.ModuleType(name)
            module.__file__ = path
            exec(compile(source, path, "exec"), module.__dict__)
        except FileNotFoundError as e:
            raise ScriptError(f"cannot load python script {path}: {e.strerror}") from None
        except BaseException:
            raise ScriptError(f"python script {path} failed to import:\n{traceback.format_exc()}") from None
        init = getattr(module, self.mod_init_name, None)
        if not callable(init):
            raise ScriptError(f"python script {path} has no function {self.mod_init_name}() "
                              "(modparam mod_init_function)")
        try:
            handler = init()
        except BaseException:
            raise ScriptError(f"{self.mod_init_name}() of {path} failed:\n{traceback.format_exc()}") from None
        if handler is None:
            raise ScriptError(f"{self.mod_init_name}() of {path} returned None: it must return "
                              "the object whose methods route the messages")
        if not callable(getattr(handler, "ksr_request_route", None)):
            log.error("python script %s: the object of %s() has no ksr_request_route method",
                      path, self.mod_init_name)
        sys.modules[name] = module
        return module, handler

    def start(self, path: str):
        self.path = path
        self.module, self.handler = self.load(path)
        self.request_fn = _bound(self.handler, "ksr_request_route")

    def when_loaded(self, fn) -> int:
        """fn() once the script is loaded (now, if it is): for a module's start-up event
        whose KEMI callback must not run before app_python3's mod_init. Returns fn's
        code, 0 when it is deferred."""
        if self.handler is not None:
            return fn() or 0
        self.waiting.append(fn)
        return 0

    def run_waiting(self) -> int:
        """After start(): the when_loaded functions, in order; -1 if one failed."""
        waiting, self.waiting = self.waiting, []
        rc = 0
        for fn in waiting:
            if (fn() or 0) < 0:
                rc = -1
        return rc

    def child_init(self, rank: int) -> int:
        self.rank = rank
        return self._child_init(self.handler, rank)

    def _child_init(self, handler, rank: int) -> int:
        fn = getattr(handler, self.child_init_name, None)
        if not callable(fn):
            return 0
        rc = fn(rank)
        return rc if isinstance(rc, int) else 0

    # ------------------------------------------------------------ reload
    def reload(self) -> None:
        """Load the script again; on success swap it in (and run child_init with this
        process's rank), else keep the running one and raise ScriptError."""
        module, handler = self.load(self.path)
        try:
            rc = self._child_init(handler, self.rank)
        except BaseException:
            raise ScriptError(f"{self.child_init_name}() of the new script failed:\n"
                              f"{traceback.format_exc()}") from None
        if rc < 0:
            raise ScriptError(f"{self.child_init_name}({self.rank}) of the new script returned {rc}")
        self.module, self.handler = module, handler
        self.request_fn = _bound(handler, "ksr_request_route")
        from kamapy.runtime import rt
        self.fit_routes(rt.routes)

    def check_reload(self):
        """Before a message: load the new script if the RPC asked for one since."""
        c = self.reload_counter
        if c is None:
            return
        want = c.get(0)
        if want == self.version:
            return
        self.version = want
        try:
            self.reload()
            log.info("python script %s reloaded (version %d)", self.path, want)
        except ScriptError as e:
            log.error("python script reload failed, the old one stays: %s", e.text)

    def fit_routes(self, routes):
        """A callback the script's object lacks is a no-op (Kamailio's apy_exec): leave
        reply_route / onsend_route unset then, so replies and sends pay nothing for it.
        Run after mod_init and after each reload."""
        if getattr(routes, "kemi", None) is not self:
            return
        h = self.handler
        routes.reply = self.reply_route if callable(getattr(h, self.reply_cb or "", None)) else None
        routes.onsend = self.onsend_route if callable(getattr(h, self.onsend_cb or "", None)) else None

    # ------------------------------------------------------------ running
    def call(self, name: str, msg, ctx, required: bool = False, param=None) -> int:
        """Run the script object's method `name` on msg; with param (an event
        callback's event name), as name(msg, param)."""
        c = self.reload_counter
        if c is not None and env.msg is None and c.get(0) != self.version:
            # a reload takes effect between messages, never inside one (a branch route
            # run from t_relay() keeps the script its request_route started with)
            self.check_reload()
        fn = getattr(self.handler, name, None)
        if fn is None:
            if required:
                log.error("%s not found or is not callable", name)
            return 1
        prev = env.msg
        env.msg = msg
        try:
            if param is None:
                fn(msg)
            else:
                fn(msg, param)
        except KemiExit:
            pass
        except SystemExit:  # Kamailio's example scripts use sys.exit() for exit
            ctx.flags |= EXIT
        except Exception:
            log.error("error in python %s():\n%s", name, traceback.format_exc().rstrip())
        finally:
            env.msg = prev
        # a compiled route returns 0 on exit/drop: callers (onsend, tm) read it that way
        return 0 if ctx.flags & (EXIT | DROP) else 1


def _bound(handler, name):
    fn = getattr(handler, name, None)
    return fn if callable(fn) else None


engine = Engine()


def ksr_install():
    """`import KSR` gives the KSR object of the loaded modules (built once)."""
    if "KSR" in sys.modules and getattr(sys.modules["KSR"], "_kamapy", False):
        return sys.modules["KSR"]
    from kamapy.loader import registry

    from .ksr import build_ksr
    ksr = build_ksr(registry)
    ksr._kamapy = True
    sys.modules["KSR"] = ksr
    return ksr


def ksr_uninstall():
    """Forget the KSR object (tests load several configs in one process)."""
    sys.modules.pop("KSR", None)


class _Named(LazyRoutes):
    """failure/onreply/branch tables: any name is a method of the script object."""

    def __init__(self, eng: Engine, prefix: str = ""):
        super().__init__(eng)
        self.prefix = prefix

    def get(self, name, default=None):
        if not name:
            return default
        if self.prefix:
            if not name.startswith(self.prefix):
                return default
            name = name[len(self.prefix):]
        route = dict.get(self, name)
        if route is None:
            route = self._remember(name, name)
        return route


def kemi_routes(cfg, core_params=None):
    """The Routes of a cfgengine "python" config."""
    from kamapy.cfg.compiler import Routes
    eng = engine
    eng.reply_cb = _kemi_param(cfg, "reply_route_callback", "ksr_reply_route")
    eng.onsend_cb = _kemi_param(cfg, "onsend_route_callback", "ksr_onsend_route")
    routes = Routes()

    from kamapy.mem.counters import lib as _counters
    counter_get = _counters.kp_counter_get  # the reload generation, one C call

    def request(msg, ctx):
        # Engine.call, inlined for the one callback every request runs
        c = eng.reload_counter
        if c is not None and env.msg is None and counter_get(c._c, 0) != eng.version:
            eng.check_reload()
        fn = eng.request_fn
        if fn is None:
            return eng.call("ksr_request_route", msg, ctx, True)
        prev = env.msg
        env.msg = msg
        try:
            fn(msg)
        except KemiExit:
            pass
        except SystemExit:
            ctx.flags |= EXIT
        except Exception:
            log.error("error in python ksr_request_route():\n%s", traceback.format_exc().rstrip())
        finally:
            env.msg = prev
        return 0 if ctx.flags & (EXIT | DROP) else 1

    def reply(msg, ctx):
        return eng.call(eng.reply_cb, msg, ctx)

    def onsend(msg, ctx):
        return eng.call(eng.onsend_cb, msg, ctx)

    routes.request = request
    eng.reply_route, eng.onsend_route = reply, onsend
    # until mod_init has loaded the script (fit_routes then keeps what it has)
    routes.reply = reply if eng.reply_cb else None
    routes.onsend = onsend if eng.onsend_cb else None
    routes.named = _Named(eng)  # run-time lookups by name (dialog's timeout route)
    routes.failure = _Named(eng)
    routes.onreply = _Named(eng)
    routes.branch = _Named(eng)
    from .events import EventTable
    routes.event = EventTable(eng)  # t_on_branch_failure names and event_callback params
    routes.kemi = eng
    if cfg is not None and cfg.routes:
        where = cfg.routes[0].pos
        routes.warnings.append(f"{where.file}:{where.line}:{where.col}: warning: route blocks are not run "
                               "with cfgengine \"python\" (the script routes every message)"
                               if where is not None else "warning: route blocks are not run with cfgengine")
        log.warning("%s", routes.warnings[-1])
    return routes


def _kemi_param(cfg, name, default):
    """kemi.<name> = "..." (Kamailio's core KEMI params; kamapy's grammar reads them as
    a cfg group assignment)."""
    for v in getattr(cfg, "cfg_vars", None) or ():
        if v.group == "kemi" and v.name == name:
            value = getattr(v.value, "value", v.value)
            return "" if value is None else str(value)
    return default
