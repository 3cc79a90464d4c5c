"""Script variables $var(name) / $vz(name) / $vn(name): private to each process and
kept between messages, as in Kamailio (a worker's $var keeps the last value it got).

$var/$vz start as 0 and go back to 0 when set to $null; $vn (a separate table) can
hold $null. Each PV holds its variable's cell, found once at parse time, so a read is
one attribute load.
"""

from __future__ import annotations

from .base import Pv
from .errors import PvError
from .registry import PvDef


class VarCell:
    __slots__ = ("name", "value")

    def __init__(self, name, value):
        self.name = name
        self.value = value


_vars: dict[str, VarCell] = {}
_null_vars: dict[str, VarCell] = {}


def var_cell(name: str, nullable: bool = False) -> VarCell:
    table = _null_vars if nullable else _vars
    cell = table.get(name)
    if cell is None:
        cell = table[name] = VarCell(name, None if nullable else 0)
    return cell


def reset_all() -> None:
    """Forget every value (tests; Kamailio has no such thing at run time)."""
    for cell in _vars.values():
        cell.value = 0
    for cell in _null_vars.values():
        cell.value = None


def _store(value):
    if value is None or value.__class__ in (int, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return int(value)
    return str(value)


class VarPv(Pv):
    __slots__ = ("cell",)
    writable = True
    nullable = False

    def __init__(self, spec):
        super().__init__(spec)
        if spec.inner_pv is not None:
            raise PvError("a script variable name cannot be a pseudo-variable", 0)
        name = spec.inner.strip()
        if not name:
            raise PvError("empty variable name", 0)
        self.cell = var_cell(name, self.nullable)

    def get(self, msg):
        return self.cell.value

    def set(self, msg, value):
        if value is None:
            self.cell.value = None if self.nullable else 0
        else:
            self.cell.value = _store(value)


class NullableVarPv(VarPv):
    __slots__ = ()
    nullable = True


PVS = [
    PvDef("var", VarPv, inner="required"),
    PvDef("vz", VarPv, inner="required"),
    PvDef("vn", NullableVarPv, inner="required"),
]
