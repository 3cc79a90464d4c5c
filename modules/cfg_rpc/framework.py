"""Runtime-changeable configuration variables shared by every process (Kamailio:
src/core/cfg/ -- the cfg framework cfg_rpc drives).

A variable belongs to a group ("core", "tm", "registrar", a config's own
`pstn.gw_ip = "..." desc "..."` ...), has a type (int or str), a value and a
description, and optionally an `apply(value)` that puts a new value into the
module's working settings. The values live in shared memory (a SharedHashTable
made by the master before the fork) with a version counter; each process keeps
its own copy and, like Kamailio's cfg_update() at the start of each message,
compares the version before it handles a request or reply (and once a second in
the timer process) and applies what changed. A change is therefore seen by every
worker from its next message on.

Delayed changes (cfg.set_delayed_*) wait in the same table until cfg.commit.
"""

from __future__ import annotations

import logging
import marshal
from dataclasses import dataclass
from typing import Any, Callable

from kamapy.change_counter import ChangeCounter

log = logging.getLogger("kamapy.cfg_rpc")

INT, STR = "int", "str"
_PENDING = b"\x00P:"


class CfgSetError(ValueError):
    pass


@dataclass
class CfgVar:
    group: str
    name: str
    type: str
    default: Any                       # the start-up value (cfg.reset goes back to it)
    description: str = ""
    readable: bool = True              # Kamailio: a variable with a fix-up is not printed
    apply: Callable[[Any], None] | None = None
    applied: bool = True               # False: kamapy keeps the value but does not use it
    value: Any = None                  # this process's copy

    @property
    def key(self) -> bytes:
        return f"{self.group}.{self.name}".encode()


_vars: dict[tuple[str, str], CfgVar] = {}
_groups: dict[str, list[CfgVar]] = {}
_table = None          # SharedHashTable, after init_shared()
_changes = ChangeCounter()


def reset():
    """Forget every declaration (tests, a new config)."""
    global _table
    _vars.clear()
    _groups.clear()
    _table = None
    _changes.reset()


def declare(group: str, name: str, vtype: str, value, description: str = "", *,
            readable: bool = True, apply=None, applied: bool = True) -> CfgVar:
    """A variable (re-declaring one replaces it). In the master, before the fork."""
    var = CfgVar(group, name, vtype, value, description, readable, apply, applied, value)
    if (group, name) in _vars:
        old = _vars[(group, name)]
        _groups[group][_groups[group].index(old)] = var
    else:
        _groups.setdefault(group, []).append(var)
    _vars[(group, name)] = var
    if _table is not None:
        _table.put(var.key, marshal.dumps(value))
    return var


def groups() -> dict[str, list[CfgVar]]:
    return _groups


def lookup(group: str, name: str) -> CfgVar | None:
    return _vars.get((group, name))


def init_shared():
    """The shm table and version counter (the master, in mod_init)."""
    global _table
    from kamapy.mem.htable import SharedHashTable
    if _table is None:
        _table = SharedHashTable(size_log2=8, name="cfg_rpc")
        _changes.create()
    for var in _vars.values():
        _table.put(var.key, marshal.dumps(var.value))
    _changes.mark_seen()


def shared() -> bool:
    return _table is not None


def _read(var: CfgVar):
    if _table is None:
        return var.value
    raw = _table.get(var.key)
    return var.value if raw is None else marshal.loads(raw)


def refresh():
    """Apply what other processes changed since this one last looked (cheap when
    nothing did: one counter read)."""
    if not _changes.changed():
        return
    for var in list(_vars.values()):
        value = _read(var)
        if value != var.value:
            _apply_local(var, value)


def _apply_local(var: CfgVar, value):
    var.value = value
    if var.apply is not None:
        try:
            var.apply(value)
        except Exception:
            log.exception("applying %s.%s = %r failed", var.group, var.name, value)


def get(var: CfgVar):
    refresh()
    return var.value


def convert(var: CfgVar, value):
    """`value` in the variable's type; CfgSetError when it does not convert."""
    if var.type == INT:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        try:
            return int(str(value).strip(), 0)
        except ValueError:
            raise CfgSetError(f"cannot convert string to integer '{value}'") from None
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def set_now(var: CfgVar, value):
    value = convert(var, value)
    if _table is not None:
        _table.put(var.key, marshal.dumps(value))
        _changes.bump()
    if not var.applied:
        log.warning("cfg: %s.%s set to %r: kamapy stores the value but does not use it",
                    var.group, var.name, value)
    if value != var.value:
        _apply_local(var, value)
    refresh()


# ---------------------------------------------------------------------- delayed changes
def set_delayed(var: CfgVar, value):
    value = convert(var, value)
    if _table is None:
        raise CfgSetError("no shared configuration (cfg_rpc not initialised)")
    _table.put(_PENDING + var.key, marshal.dumps(value))


def pending() -> list[tuple[CfgVar, Any]]:
    if _table is None:
        return []
    out = []
    for key, raw in _table.items():
        if not key.startswith(_PENDING):
            continue
        group, _, name = key[len(_PENDING):].decode().partition(".")
        var = lookup(group, name)
        if var is not None:
            out.append((var, marshal.loads(raw)))
    order = {id(v): i for i, v in enumerate(_vars.values())}
    out.sort(key=lambda p: order.get(id(p[0]), 0))
    return out


def commit():
    for var, value in pending():
        _table.delete(_PENDING + var.key)
        set_now(var, value)


def rollback():
    for var, _value in pending():
        _table.delete(_PENDING + var.key)
