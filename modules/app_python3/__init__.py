"""app_python3: routing by a Python KEMI script (Kamailio: modules/app_python3).

    loadmodule "app_python3.so"
    modparam("app_python3", "load", "/etc/kamapy/kamapy-kemi.py")
    cfgengine "python"

mod_init loads the script and calls its mod_init() (modparam mod_init_function), which
returns the object whose ksr_request_route(msg) ... route the messages (kamapy/kemi);
each child calls that object's child_init(rank) (child_init_method). python_exec()
calls one of its methods from a native route. RPC app_python.reload loads the script
again in every worker before its next message (Kamailio's name; app_python3 keeps
app_python's RPC names).
"""

from __future__ import annotations

import logging

from kamapy.module import ANY_ROUTE, Arg, Function, ModuleExports, Param, RpcCommand

log = logging.getLogger("kamapy_modules.app_python3")

DEFAULT_SCRIPT = "/usr/local/etc/kamailio/handler.py"


def _script_path(exports) -> str:
    # load and script_name set the same value in Kamailio (the last one set wins);
    # kamapy takes whichever the config set, load first
    if exports.param_pos.get("load") is not None or exports.param("script_name") is None:
        return exports.param("load")
    return exports.param("script_name")


def make_exports(name: str) -> ModuleExports:
    from kamapy.kemi.engine import ScriptError, engine

    def check():
        import os

        from kamapy.loader import registry
        other = "app_python" if name == "app_python3" else "app_python3"
        if name == "app_python3" and registry.loaded(other):
            # Kamailio: the two share their C symbols and cannot be loaded together
            return [(None, f"{name} cannot be loaded together with {other}: load one of them")]
        path = _script_path(exports)
        if not os.path.isfile(path):
            return [("load", f"python script {path} not found")]
        try:
            with open(path, "rb") as f:
                compile(f.read(), path, "exec")
        except SyntaxError as e:
            return [("load", f"python script {path}:{e.lineno}:{e.offset or 0}: syntax error: {e.msg}")]
        except OSError as e:
            return [("load", f"python script {path}: {e.strerror}")]
        return []

    def mod_init():
        from kamapy.mem.counters import CounterArray
        from kamapy.runtime import rt
        engine.mod_init_name = exports.param("mod_init_function")
        engine.child_init_name = exports.param("child_init_method")
        try:
            engine.start(_script_path(exports))
        except ScriptError as e:
            log.error("%s", e.text)
            return -1
        engine.reload_counter = CounterArray(1)  # the reload generation, bumped by the RPC
        engine.version = 0
        engine.fit_routes(rt.routes)
        return engine.run_waiting()  # start-up events of modules loaded before (htable:mod-init)

    def child_init(rank: int):
        rc = engine.child_init(rank)
        return -1 if rc < 0 else 0

    def python_exec(msg, method, param=None):
        """python_exec(method [, param]): a method of the script's object from a native
        route (Kamailio: apy_exec with the message and the optional string)."""
        from kamapy.cfg.run_context import RunContext
        from kamapy.kemi.ksr import KemiExit, env
        fn = getattr(engine.handler, method, None)
        if not callable(fn):
            log.error("%s not found or is not callable", method)
            return -1
        prev, env.msg = env.msg, msg
        if msg.ctx is None:
            msg.ctx = RunContext()
        try:
            rc = fn(msg) if param is None else fn(msg, param)
        except KemiExit:
            return 0
        except Exception:
            import traceback
            log.error("error in python %s():\n%s", method, traceback.format_exc().rstrip())
            return -1
        finally:
            env.msg = prev
        return rc if isinstance(rc, int) and not isinstance(rc, bool) else 1

    def rpc_reload(_rpc, _params):
        """Check here that the new script loads (its traceback is the RPC's error),
        then tell every worker to load it before its next message."""
        from kamapy.rpc import RpcError
        if engine.path is None or engine.reload_counter is None:
            raise RpcError(500, "no python script loaded")
        try:
            engine.load(engine.path)
        except ScriptError as e:
            log.error("app_python.reload: %s", e.text)
            raise RpcError(500, f"Reload failed: {e.text}") from None
        new = engine.reload_counter.add(0, 1)
        log.info("marking for reload Python script file: %s (%d => %d)", engine.path, new - 1, new)
        return {"old": new - 1, "new": new}  # Kamailio's reply

    def rpc_api_list(_rpc, _params):
        import sys
        ksr = sys.modules.get("KSR")
        out = []
        if ksr is None:
            return {"msize": 0, "methods": []}
        for mod, group in sorted(vars(ksr).items()):
            if mod.startswith("_"):
                continue
            if callable(group):
                out.append({"name": f"KSR.{mod}"})
                continue
            for fn in sorted(k for k in vars(group) if not k.startswith("_")):
                out.append({"name": f"KSR.{mod}.{fn}"})
        return {"msize": len(out), "methods": out}

    exports = ModuleExports(
        name=name,
        params=[
            Param("load", str, DEFAULT_SCRIPT),
            Param("script_name", str, None),
            Param("mod_init_function", str, "mod_init"),
            Param("child_init_method", str, "child_init"),
        ],
        functions=[
            Function("python_exec", python_exec, (Arg("spve"), Arg("spve", optional=True)), ANY_ROUTE),
        ],
        rpc=[
            RpcCommand("app_python.reload", rpc_reload, "Reload the python script in every worker."),
            RpcCommand("app_python.api_list", rpc_api_list, "List the KSR functions."),
        ],
        mod_init=mod_init,
        child_init=child_init,
        check=check,
        doc=__doc__,
    )
    return exports


exports = make_exports("app_python3")
