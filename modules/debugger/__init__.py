"""debugger: per-module log levels and the cfg-trace controls (Kamailio:
modules/debugger), for what Debian's kamailio.cfg loads under WITH_DEBUG.

    loadmodule "debugger.so"
    modparam("debugger", "cfgtrace", 1)
    modparam("debugger", "mod_hash_size", 4)
    modparam("debugger", "mod_level_mode", 1)
    modparam("debugger", "mod_level", "tm=3")

    kamcmd dbg.set_mod_level registrar 3 / dbg.get_mod_level registrar
    kamcmd dbg.trace on|off [pid] / dbg.ls [pid]

Built: the config trace (cfgtrace, dbg.trace on|off [pid]): every action a
process with the trace on runs is logged before it runs, as Kamailio's
dbg_cfg_trace() does -- `*** cfgtrace:dbg_cfg_trace(): request_route=[DEFAULT_ROUTE]
c=[/etc/kamailio/kamailio.cfg] l=412 a=26 n=sl_send_reply` (cfgtrace_format 1 leaves
out c=[...]; log_level, log_prefix apply; log_level_name does not: kamapy prints its
own level label); the per-module log levels (mod_level, dbg.set_mod_level / get_mod_level,
mod_level_mode, also as the cfg variable dbg.mod_level_mode), kept in shared memory
and applied by every process from its next message on; the per-process trace
switches dbg.ls shows. Not built: breakpoints (`breakpoint`,
dbg.bp: refused), per-module log facilities (stored and shown, not applied), the
config functions dbg_breakpoint / dbg_pv_dump / dbg_sip_msg.
"""

from __future__ import annotations

import logging
import os

from kamapy.change_counter import ChangeCounter
from kamapy.loader import loaded
from kamapy.module import PRE_SCRIPT, ModuleExports, Param, RpcCommand, ScriptCallback
from kamapy.rpc import RpcError
from kamapy.runtime import rt

log = logging.getLogger("kamapy.debugger")

F_CFGTRACE = 1 << 0      # Kamailio's DBG_CFGTRACE_ON
F_BREAKPOINT = 1 << 1

_levels = None           # SharedHashTable: module -> level; b"\x00F:" + module -> facility
_flags = None            # SharedHashTable: pid -> trace flags
_changes = ChangeCounter()
_applied: dict[str, int] = {}
_mod_level_mode = 0
_tracing = False         # this process's cfgtrace switch (dbg.trace)


def _mod_level_pairs():
    out = []
    for text in exports.param("mod_level") or []:
        name, sep, level = str(text).partition("=")
        if not sep or not name.strip():
            raise ValueError(f"bad mod_level {text!r}: expected modulename=level")
        out.append((name.strip(), int(level.strip(), 0)))
    return out


def _check_mod_level(text):
    name, sep, level = str(text).partition("=")
    if not sep or not name.strip():
        raise ValueError("expected modulename=level")
    int(level.strip(), 0)


def mod_init():
    global _levels, _flags, _mod_level_mode
    from kamapy.mem.htable import SharedHashTable
    _levels = SharedHashTable(size_log2=max(1, min(exports.param("mod_hash_size") or 1, 16)), name="dbg_levels")
    _flags = SharedHashTable(size_log2=6, name="dbg_flags")
    _changes.create()
    _mod_level_mode = exports.param("mod_level_mode")
    if exports.param("mod_hash_size") > 0:
        for name, level in _mod_level_pairs():
            _levels.put(name.encode(), str(level).encode())
        for text in exports.param("mod_facility") or []:
            name, _, fac = str(text).partition("=")
            _levels.put(b"\x00F:" + name.strip().encode(), fac.strip().encode())
    elif exports.param("mod_level"):
        log.warning("debugger: mod_level needs mod_hash_size > 0; the per-module levels are ignored")
    _changes.bump()
    _changes.forget_seen()
    if loaded("cfg_rpc"):
        from kamapy_modules.cfg_rpc import framework
        framework.declare("dbg", "mod_level_mode", "int", _mod_level_mode,
                          "Enable or disable per module log level (0 - disabled, 1 - enabled)",
                          readable=False, apply=_set_mode)
        framework.declare("dbg", "mod_facility_mode", "int", exports.param("mod_facility_mode"),
                          "Enable or disable per module log facility (0 - disabled, 1 - enabled)",
                          readable=False, applied=False)
        framework.declare("dbg", "mod_hash_size", "int", exports.param("mod_hash_size"),
                          "power of two as size of internal hash table to store levels per module",
                          applied=False)
    from kamapy.timer import register_timer
    register_timer("debugger-levels", 1.0, lambda _now: refresh())
    refresh()
    return 0


def _set_mode(value):
    global _mod_level_mode
    _mod_level_mode = int(value)
    _changes.forget_seen()   # re-apply (or undo) the levels
    refresh()


def _logger_names(module: str):
    if module == "core":
        return ["kamapy"]
    return [f"kamapy_modules.{module}", f"kamapy.{module}"]


def refresh():
    """Apply the per-module levels other processes changed (one counter read when
    nothing did)."""
    if not _changes.changed():
        return
    global _tracing
    _tracing = bool(_pid_flags(os.getpid()) & F_CFGTRACE)
    from kamapy.log import python_level
    wanted = {}
    if _mod_level_mode and exports.param("mod_hash_size") > 0:
        for key, value in _levels.items():
            if not key.startswith(b"\x00"):
                try:
                    wanted[key.decode()] = int(value)
                except ValueError:
                    pass
    for module in list(_applied):
        if module not in wanted:
            for name in _logger_names(module):
                logging.getLogger(name).setLevel(logging.NOTSET)
            del _applied[module]
    for module, level in wanted.items():
        if _applied.get(module) != level:
            for name in _logger_names(module):
                logging.getLogger(name).setLevel(python_level(level))
            _applied[module] = level


def _pre_script(_msg):
    refresh()
    return None


def _on_reply(_msg):
    refresh()
    return False


# ---------------------------------------------------------------------- cfgtrace
# Kamailio's action types (route_struct.h) for the a= of a trace line
_ACTION_TYPES = {"If": 16, "Switch": 17, "While": 23, "Assign": 63, "RouteCall": 5,
                 "Return": 2, "Exit": 2, "Drop": 2, "Break": 2}
_ACTION_NAMES = {"If": "if", "Switch": "switch", "While": "while", "Assign": "assign",
                 "RouteCall": "route", "Return": "return", "Exit": "exit", "Drop": "drop",
                 "Break": "break"}


def _trace_wrapper(fn, stmt, block: str):
    """Compiler hook: a statement that logs itself first while the trace is on."""
    if not loaded("debugger"):
        return fn
    from kamapy.module import ROUTE_TYPE_NAMES
    kind = type(stmt).__name__
    if kind == "Call":
        name = stmt.name
        n = len(stmt.args)
        atype = 24 + n if n <= 6 else 31
    else:
        name = _ACTION_NAMES.get(kind, kind.lower())
        atype = _ACTION_TYPES.get(kind, 0)
    pos = stmt.pos
    line = pos.line if pos is not None else 0
    where = "" if exports.param("cfgtrace_format") == 1 else f" c=[{pos.file if pos else ''}]"
    label = block.partition("[")[2].rstrip("]") or "DEFAULT_ROUTE"
    tail = f"=[{label}]{where} l={line} a={atype} n={name}"
    prefix = exports.param("log_prefix") or ""
    from kamapy.log import python_level
    level = python_level(exports.param("log_level"))
    logger = logging.getLogger("kamapy.debugger")

    def traced(msg, ctx):
        if _tracing:
            rname = ROUTE_TYPE_NAMES.get(ctx.route_type, "request_route")
            logger.log(level, "%sdbg_cfg_trace(): %s%s", prefix, rname, tail, extra=_BARE)
        return fn(msg, ctx)
    return traced


_BARE = {"kp_bare": True}      # no "<debugger>" tag: Kamailio's line has none


def _install_trace_hook():
    from kamapy.cfg import compiler
    if _trace_wrapper not in compiler.STMT_WRAPPERS:
        compiler.STMT_WRAPPERS.append(_trace_wrapper)


_install_trace_hook()


# ---------------------------------------------------------------------- RPC
def _core_debug() -> int:
    core = rt.core
    return int(getattr(core, "debug", 2)) if core is not None else 2


def _processes():
    """(index, pid) of every process (core.psx's table)."""
    from kamapy.rpc.registry import commands
    cmd = commands().lookup("core.psx")
    rows = cmd.handler(None, []) if cmd is not None else []
    return [(r.get("IDX", i), r.get("PID")) for i, r in enumerate(rows)]


def _pid_flags(pid) -> int:
    raw = _flags.get(str(pid).encode()) if _flags is not None else None
    if raw is None:
        return F_CFGTRACE if exports.param("cfgtrace") else 0
    return int(raw)


def rpc_ls(_rpc, params):
    pid = params[0] if params else None
    out = []
    for idx, p in _processes():
        if pid is not None and str(p) != str(pid):
            continue
        out.append({"entry": idx, "pid": p, "set": _pid_flags(p), "state": 0,
                    "in.pid": 0, "in.cmd": 0})
    if pid is not None and not out:
        raise RpcError(500, "No such pid")
    return out


def rpc_trace(_rpc, params):
    if not params or not isinstance(params[0], str):
        raise RpcError(500, "Invalid parameters")
    cmd = params[0]
    if cmd not in ("on", "off"):
        raise RpcError(500, "Unknown trace command")
    pids = [p for _i, p in _processes()]
    if len(params) > 1:
        if str(params[1]) not in {str(p) for p in pids}:
            raise RpcError(500, "No such pid")
        pids = [params[1]]
    for p in pids:
        flags = _pid_flags(p)
        flags = flags | F_CFGTRACE if cmd == "on" else flags & ~F_CFGTRACE
        _flags.put(str(p).encode(), str(flags).encode())
    _changes.bump()
    return "200 ok"


def rpc_bp(_rpc, _params):
    raise RpcError(500, "breakpoints are not supported by kamapy's debugger")


def rpc_set_mod_level(_rpc, params):
    if len(params) < 2 or not isinstance(params[0], str) or isinstance(params[1], str):
        raise RpcError(500, "invalid parameters")
    if exports.param("mod_hash_size") <= 0:
        raise RpcError(500, "cannot store parameter")
    _levels.put(params[0].encode(), str(int(params[1])).encode())
    _changes.bump()
    refresh()
    return "200 ok"


def rpc_get_mod_level(_rpc, params):
    if not params or not isinstance(params[0], str):
        raise RpcError(500, "invalid parameters")
    raw = _levels.get(params[0].encode()) if exports.param("mod_hash_size") > 0 else None
    return int(raw) if raw is not None else _core_debug()


def rpc_set_mod_facility(_rpc, params):
    if len(params) < 2 or not isinstance(params[0], str) or not isinstance(params[1], str):
        raise RpcError(500, "invalid parameters")
    if exports.param("mod_hash_size") <= 0:
        raise RpcError(500, "cannot store parameter")
    _levels.put(b"\x00F:" + params[0].encode(), params[1].encode())
    log.warning("debugger: per-module log facilities are stored but not applied by kamapy")
    return "200 ok"


def rpc_get_mod_facility(_rpc, params):
    if not params or not isinstance(params[0], str):
        raise RpcError(500, "invalid parameters")
    raw = _levels.get(b"\x00F:" + params[0].encode()) if exports.param("mod_hash_size") > 0 else None
    if raw is not None:
        return raw.decode()
    core = rt.core
    return str(getattr(core, "log_facility", "LOG_DAEMON")) if core is not None else "LOG_DAEMON"


def rpc_reset_msgid(_rpc, _params):
    raise RpcError(500, "reset_msgid is not supported by kamapy's debugger")


_NOT_BUILT = "not built in kamapy's debugger"

exports = ModuleExports(
    name="debugger",
    params=[
        Param("cfgtrace", int, 0),
        Param("cfgtrace_format", int, 0),
        Param("breakpoint", int, 0, unsupported="breakpoints are " + _NOT_BUILT),
        Param("log_level", int, -1),
        Param("log_level_name", str, ""),
        Param("log_facility", str, ""),
        Param("log_prefix", str, "*** cfgtrace:"),
        Param("step_usleep", int, 100000, unsupported="breakpoints are " + _NOT_BUILT),
        Param("step_loops", int, 200, unsupported="breakpoints are " + _NOT_BUILT),
        Param("mod_hash_size", int, 0),
        Param("mod_level_mode", int, 0),
        Param("mod_level", str, None, multi=True, validate=_check_mod_level),
        Param("mod_facility_mode", int, 0),
        Param("mod_facility", str, None, multi=True),
        Param("log_assign", int, 0, unsupported="assignment logging is " + _NOT_BUILT),
        Param("cfgpkgcheck", int, 0, unsupported="pkg memory checks do not apply to kamapy"),
        Param("reset_msgid", int, 0, unsupported="dbg.reset_msgid is " + _NOT_BUILT),
        Param("cfgtest", int, 0, unsupported="cfgtest is " + _NOT_BUILT),
    ],
    rpc=[
        RpcCommand("dbg.ls", rpc_ls, "List debugging process array"),
        RpcCommand("dbg.trace", rpc_trace, "Config trace command"),
        RpcCommand("dbg.bp", rpc_bp, "Breakpoint command"),
        RpcCommand("dbg.set_mod_level", rpc_set_mod_level, "Set module log level"),
        RpcCommand("dbg.get_mod_level", rpc_get_mod_level, "Get module log level"),
        RpcCommand("dbg.set_mod_facility", rpc_set_mod_facility, "Set module log facility"),
        RpcCommand("dbg.get_mod_facility", rpc_get_mod_facility, "Get module log facility"),
        RpcCommand("dbg.reset_msgid", rpc_reset_msgid, "Reset msgid on all process"),
    ],
    script_callbacks=[ScriptCallback(PRE_SCRIPT, _pre_script)],
    response=_on_reply,
    mod_init=mod_init,
    doc=__doc__,
)
