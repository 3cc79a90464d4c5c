"""cfg_rpc: read and change configuration variables at runtime over RPC (Kamailio:
modules/cfg_rpc and the core's cfg framework).

    kamcmd cfg.get core debug
    kamcmd cfg.set_now_int core debug 3          # also cfg.seti / cfg.set
    kamcmd cfg.sets pstn gw_ip 10.0.0.1          # a config's own variable
    kamcmd cfg.set_now_int registrar default_expires 600
    kamcmd cfg.list [group] / cfg.help group var / cfg.get group / cfg.reset group
    kamcmd cfg.set_delayed_int ...; cfg.diff; cfg.commit / cfg.rollback

The variables are the ones Kamailio 5.6 declares for the core ("core", "tcp") and
for the modules kamapy has that are loaded ("tm", "registrar", "dbg"), plus the
config's own `group.name = value desc "..."` lines. A change is in shared memory
and every process applies it from its next message on (see framework.py). kamapy
uses core.debug, the registrar expiry and contact settings, tm's timers and reply
settings, the config's own variables (`$sel(cfg_get.group.name)`) and debugger's
mod_level_mode; a variable kamapy keeps but does not use logs a warning when set.
Group instances (`group[id]`, cfg.add_group_inst ...) are not built: refused.
"""

from __future__ import annotations

import logging
import re

from kamapy.loader import loaded
from kamapy.module import PRE_SCRIPT, ModuleExports, RpcCommand, ScriptCallback
from kamapy.rpc import RpcError
from kamapy.runtime import rt

from . import framework
from .framework import INT, CfgSetError
from .kamailio_vars import VARS

log = logging.getLogger("kamapy.cfg_rpc")

WRONG_GROUP = "Wrong group syntax. Use either \"group\", or \"group[id]\""
_GROUP_RE = re.compile(r"^([^\[\]]+)(?:\[(\d+)\])?$")

# the variables kamapy's code reads (the others are kept, with a warning when set)
_CORE_APPLIED = {"debug"}
_TM_APPLIED = {
    "fr_timer", "fr_inv_timer", "wt_timer", "retr_timer1", "retr_timer2", "max_inv_lifetime",
    "max_noninv_lifetime", "noisy_ctimer", "restart_fr_on_each_reply", "auto_inv_100",
    "auto_inv_100_reason", "default_code", "default_reason", "disable_6xx_block", "unmatched_cancel",
    "relay_100", "pass_provisional_replies", "e2e_cancel_reason", "local_cancel_reason",
    "ac_extra_hdrs", "aggregate_challenges",
}
_REGISTRAR_ATTR = {"realm_pref": "realm_prefix"}


# ---------------------------------------------------------------------- declarations
def _core_apply(name):
    def apply(value):
        if name == "debug":
            from kamapy import log as kamapy_log
            kamapy_log.set_debug(int(value))
        if rt.core is not None:
            try:
                setattr(rt.core, name, value)
            except (AttributeError, TypeError):
                pass
    return apply


def _tm_apply(name):
    def apply(value):
        import kamapy_modules.tm as tm
        from kamapy_modules.tm import config as tm_config
        tm.exports.values[name] = value
        tm_config.cfg.load(tm.exports.values)
    return apply


def _registrar_apply(name):
    attr = _REGISTRAR_ATTR.get(name, name)

    def apply(value):
        from kamapy_modules.registrar.settings import cfg
        setattr(cfg, attr, "" if value is None and attr == "realm_prefix" else value)
    return apply


def _module_value(module: str, name: str, default):
    import importlib
    try:
        mod = importlib.import_module(f"kamapy_modules.{module}")
    except ImportError:
        return default
    values = getattr(mod.exports, "values", {}) or {}
    value = values.get(name, default)
    return value if isinstance(value, (int, str)) or value is None else default


def declare_all():
    """Every group kamapy has in this configuration (the master, in mod_init)."""
    core = rt.core
    for group, name, vtype, readable, default, desc in VARS:
        apply, applied = None, False
        value = default
        if group == "core":
            if core is not None and isinstance(getattr(core, name, None), (int, str)):
                value = getattr(core, name)
            apply, applied = _core_apply(name), name in _CORE_APPLIED
        elif group == "tcp":
            if core is not None and isinstance(getattr(core, "tcp_" + name, None), (int, str)):
                value = getattr(core, "tcp_" + name)
        elif group == "tm":
            if not loaded("tm"):
                continue
            value = _module_value("tm", name, default)
            if name in _TM_APPLIED:
                apply, applied = _tm_apply(name), True
        elif group == "registrar":
            if not loaded("registrar"):
                continue
            value = _module_value("registrar", "realm_prefix" if name == "realm_pref" else name, default)
            if name == "realm_pref" and value == "":
                value = None
            from kamapy_modules.registrar.settings import cfg as reg_cfg
            if hasattr(reg_cfg, _REGISTRAR_ATTR.get(name, name)):
                apply, applied = _registrar_apply(name), True
        if vtype == INT and not isinstance(value, int):
            value = default
        framework.declare(group, name, vtype, value, desc, readable=readable, apply=apply, applied=applied)
    _declare_script_vars()


def _declare_script_vars():
    """The config's own variables: $sel(cfg_get.G.N) reads the select table, which
    every process updates when the value changes."""
    from kamapy.pv import select_pvs
    for key, value in list(select_pvs._cfg_vars.items()):
        group, _, name = key.partition(".")
        vtype = INT if isinstance(value, int) and not isinstance(value, bool) else "str"

        def apply(v, key=key):
            select_pvs._cfg_vars[key] = v
        framework.declare(group, name, vtype, value, _script_descriptions.get(key, ""), apply=apply)


_script_descriptions: dict[str, str] = {}


_DESC_RE = re.compile(r'^\s*(\w+)\.(\w+)\s*=.*?\bdesc\s+"((?:[^"\\]|\\.)*)"', re.M)


def _read_script_descriptions():
    """The desc "..." of the config's variables (the compiled config keeps only the
    values): read from the config file's `group.name = value desc "..."` lines."""
    _script_descriptions.clear()
    if not rt.cfg_file:
        return
    try:
        with open(rt.cfg_file, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return
    for m in _DESC_RE.finditer(text):
        _script_descriptions.setdefault(f"{m.group(1)}.{m.group(2)}", m.group(3).replace('\\"', '"'))


def mod_init():
    try:
        _read_script_descriptions()
    except Exception:
        pass
    declare_all()
    framework.init_shared()
    from kamapy.timer import register_timer
    register_timer("cfg_rpc-update", 1.0, lambda _now: framework.refresh())
    return 0


# ---------------------------------------------------------------------- $sel(cfg_get.G.N)
class _SelectGet:
    __slots__ = ("group", "name", "default")

    def __init__(self, group, name, default):
        self.group, self.name, self.default = group, name, default

    def get(self, _msg):
        var = framework.lookup(self.group, self.name)
        return self.default if var is None else var.value


_KNOWN = {(g, n): (readable, default) for g, n, _t, readable, default, _d in VARS}


def _select_provider(key: str):
    """$sel(cfg_get.core.debug), $sel(cfg_get.registrar.default_expires) ...: the
    readable variables of the core and of the loaded modules (Kamailio refuses the
    others at start-up)."""
    group, _, name = key.partition(".")
    known = _KNOWN.get((group, name))
    if known is None or not known[0] or not loaded("cfg_rpc"):
        return None
    if group not in ("core", "tcp") and not loaded(group):
        return None
    return _SelectGet(group, name, known[1])


def _install_select_provider():
    from kamapy.pv import select_pvs
    if _select_provider not in select_pvs.CFG_GET_PROVIDERS:
        select_pvs.CFG_GET_PROVIDERS.append(_select_provider)


_install_select_provider()


def _pre_script(_msg):
    framework.refresh()
    return None


def _on_reply(_msg):
    framework.refresh()
    return False


# ---------------------------------------------------------------------- RPC helpers
def _scan_str(params, i):
    if i >= len(params) or not isinstance(params[i], str):
        raise RpcError(400, f"error at parameter {i}: expected string type but record doesn't match type")
    return params[i]


def _scan_int(params, i):
    if i >= len(params):
        raise RpcError(400, f"error at parameter {i}: expected integer type but end of packet encountered")
    v = params[i]
    if isinstance(v, bool) or isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return int(v)
    raise RpcError(400, f"error at parameter {i}: expected integer type but record doesn't match type")


def _group(text: str) -> str:
    """The group name; a group[id] names an instance, which kamapy does not have."""
    m = _GROUP_RE.match(text)
    if m is None:
        raise RpcError(400, WRONG_GROUP)
    return m.group(1) if m.group(2) is None else None


def _var(group_text, name, fault):
    group = _group(group_text)
    var = framework.lookup(group, name) if group is not None else None
    if var is None:
        log.error("cfg: variable not found: %s.%s", group_text, name)
        raise RpcError(400, fault)
    return var


def _set(var, value, now: bool = True):
    """Set now, or at the next commit (cfg.set_delayed*)."""
    try:
        (framework.set_now if now else framework.set_delayed)(var, value)
    except CfgSetError as e:
        log.error("cfg: %s; failed to set the variable: %s.%s", e, var.group, var.name)
        raise RpcError(400, "Failed to set the variable") from None


# ---------------------------------------------------------------------- RPC commands
def _var_and_value(params, kind: str):
    """(the variable, the value) of a cfg.set* call: group, name, then an int, a
    string, or either (kind "any": a number arrives as an int, as Kamailio's "*" scan)."""
    group, name = _scan_str(params, 0), _scan_str(params, 1)
    if kind == "int":
        value = _scan_int(params, 2)
    elif kind == "string":
        value = _scan_str(params, 2)
    else:
        if len(params) < 3:
            raise RpcError(400, "error at parameter 2: expected string type but end of packet encountered")
        value = params[2]
        if isinstance(value, float):
            value = int(value)
    return _var(group, name, "Failed to set the variable"), value


def rpc_set_now_int(_rpc, params):
    _set(*_var_and_value(params, "int"))


def rpc_set_now_string(_rpc, params):
    _set(*_var_and_value(params, "string"))


def rpc_set(_rpc, params):
    _set(*_var_and_value(params, "any"))


def rpc_set_delayed_int(_rpc, params):
    _set(*_var_and_value(params, "int"), now=False)


def rpc_set_delayed_string(_rpc, params):
    _set(*_var_and_value(params, "string"), now=False)


def rpc_set_delayed(_rpc, params):
    _set(*_var_and_value(params, "any"), now=False)


def rpc_commit(_rpc, _params):
    try:
        framework.commit()
    except CfgSetError:
        raise RpcError(400, "Failed to commit the changes") from None


def rpc_rollback(_rpc, _params):
    framework.rollback()


def rpc_diff(_rpc, _params):
    out = []
    for var, new in framework.pending():
        out.append({"group name": var.group, "variable name": var.name,
                    "old value": framework.get(var), "new value": new})
    return out


def rpc_get(_rpc, params):
    if not params or not isinstance(params[0], str):
        raise RpcError(500, "Failed to get the parameters")
    group = _group(params[0])
    if len(params) >= 2 and isinstance(params[1], str):
        var = framework.lookup(group, params[1]) if group is not None else None
        if var is None:
            raise RpcError(400, "Failed to get the variable")
        if not var.readable:
            raise RpcError(400, "Variable exists, but it is not readable via RPC interface")
        value = framework.get(var)
        return "<null string>" if value is None else value
    framework.refresh()
    out = {}
    for var in framework.groups().get(group, []) if group is not None else []:
        if var.readable:
            out[var.name] = var.value
    return out


def rpc_reset(_rpc, params):
    group = _group(_scan_str(params, 0))
    for var in framework.groups().get(group, []) if group is not None else []:
        try:
            framework.set_now(var, var.default)
        except CfgSetError:
            raise RpcError(500, "Reset failed") from None


def rpc_help(_rpc, params):
    group, name = _scan_str(params, 0), _scan_str(params, 1)
    var = _var(group, name, "Failed to get the variable description")
    kind = "integer" if var.type == INT else "string"
    return [var.description, f"(parameter type is {kind})"]


def rpc_list(_rpc, params):
    group = params[0] if params and isinstance(params[0], str) else ""
    out = []
    for gname, variables in framework.groups().items():
        if not group or gname == group:
            out.extend(f"{gname}: {v.name}" for v in variables)
    return out


def rpc_del(_rpc, params):
    _scan_str(params, 0)
    _scan_str(params, 1)
    raise RpcError(400, "Wrong group syntax. Use \"group[id]\"")


def rpc_group_inst(fault):
    def handler(_rpc, params):
        text = _scan_str(params, 0)
        m = _GROUP_RE.match(text)
        if m is None or m.group(2) is None:
            raise RpcError(400, "Wrong group syntax. Use \"group[id]\"")
        log.error("cfg: group instances are not supported by kamapy (%s)", text)
        raise RpcError(400, fault)
    return handler


_SET_DOC = "Set the value of a configuration variable and commit the change immediately"
_DELAYED_DOC = "Prepare the change of a configuration variable, but does not commit the new value yet"

exports = ModuleExports(
    name="cfg_rpc",
    rpc=[
        RpcCommand("cfg.set", rpc_set, _SET_DOC),
        RpcCommand("cfg.set_now_int", rpc_set_now_int, _SET_DOC),
        RpcCommand("cfg.seti", rpc_set_now_int, _SET_DOC),
        RpcCommand("cfg.set_now_string", rpc_set_now_string, _SET_DOC),
        RpcCommand("cfg.sets", rpc_set_now_string, _SET_DOC),
        RpcCommand("cfg.del", rpc_del, "Delete the value of a configuration variable from a group "
                   "instance and commit the change immediately"),
        RpcCommand("cfg.set_delayed", rpc_set_delayed, _DELAYED_DOC),
        RpcCommand("cfg.set_delayed_int", rpc_set_delayed_int, _DELAYED_DOC),
        RpcCommand("cfg.set_delayed_string", rpc_set_delayed_string, _DELAYED_DOC),
        RpcCommand("cfg.del_delayed", rpc_del, "Prepare the deletion of the value of a configuration "
                   "variable from a group instance, but does not commit the change yet"),
        RpcCommand("cfg.commit", rpc_commit, "Commit the previously prepared configuration changes"),
        RpcCommand("cfg.rollback", rpc_rollback, "Drop the prepared configuration changes"),
        RpcCommand("cfg.get", rpc_get, "Get the value of a configuration variable"),
        RpcCommand("cfg.reset", rpc_reset, "Reset all the values of a configuration group and commit "
                   "the change immediately"),
        RpcCommand("cfg.help", rpc_help, "Print the description of a configuration variable"),
        RpcCommand("cfg.list", rpc_list, "List the configuration variables"),
        RpcCommand("cfg.diff", rpc_diff, "List the pending configuration changes that have not been "
                   "committed yet"),
        RpcCommand("cfg.add_group_inst", rpc_group_inst("Failed to add the group instance"),
                   "Add a new instance to an existing configuration group"),
        RpcCommand("cfg.del_group_inst", rpc_group_inst("Failed to delete the group instance"),
                   "Delete an instance of a configuration group"),
    ],
    script_callbacks=[ScriptCallback(PRE_SCRIPT, _pre_script)],
    response=_on_reply,
    mod_init=mod_init,
    doc=__doc__,
)
