"""$sht(table=>key) and its kin (Kamailio: ht_var.c).

The inner name is `table=>key`: the table name up to '=' or blank, then "=>", then the
key as a format that may hold pseudo-variables ($sht(ipban=>$si)). The table is looked
up on use, as Kamailio resolves it lazily: an unknown table reads $null and refuses
writes.
"""

from __future__ import annotations

import logging

from kamapy.pv.base import Pv
from kamapy.pv.errors import PvError
from kamapy.pv.format import compile_format
from kamapy.pv.registry import PvDef

from . import state

log = logging.getLogger("kamapy.htable")


def parse_name(inner: str) -> tuple[str, object]:
    """'table=>key format' -> (table name, key format: str or f(msg) -> str)."""
    text = inner or ""
    i, n = 0, len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    start = i
    while i < n and text[i] not in "= \t\r\n":
        i += 1
    name = text[start:i]
    while i < n and text[i] in " \t\r\n":
        i += 1
    if not name or text[i:i + 2] != "=>":
        raise PvError(f"invalid htable name [{text}] (expected table=>key)", 0)
    key = text[i + 2:]
    try:
        fmt = compile_format(key)
    except PvError:
        raise
    return name, fmt


class _HtPv(Pv):
    __slots__ = ("table_name", "key", "_table")

    def __init__(self, spec):
        super().__init__(spec)
        self.table_name, self.key = parse_name(spec.inner)
        self._table = None

    def table(self):
        t = self._table
        if t is None:
            t = self._table = state.table(self.table_name)
        return t

    def key_of(self, msg) -> str:
        k = self.key
        return k if k.__class__ is str else k(msg)

    def get(self, msg):
        t = self.table()
        if t is None:
            return None
        return self.read(t, self.key_of(msg))

    def set(self, msg, value):
        if not self.writable:
            return Pv.set(self, msg, value)
        t = self.table()
        if t is None:
            log.error("cannot set %s: no such htable", self.text)
            return
        self.write(t, self.key_of(msg), value)


class ShtPv(_HtPv):
    __slots__ = ()
    writable = True

    def read(self, t, key):
        return t.get(key)

    def write(self, t, key, value):
        if value is None:
            t.delete(key)
            return
        t.set(key, value)


class ShtExPv(_HtPv):
    __slots__ = ()
    writable = True

    def read(self, t, key):
        return t.get_expire(key)

    def write(self, t, key, value):
        t.set_expire(key, value if value.__class__ is int else 0)


class ShtCnPv(_HtPv):
    __slots__ = ()
    by_value = False

    def read(self, t, key):
        return t.count(key, self.by_value)


class ShtCvPv(ShtCnPv):
    __slots__ = ()
    by_value = True


class ShtIncPv(_HtPv):
    __slots__ = ()
    delta = 1

    def read(self, t, key):
        return t.add(key, self.delta)


class ShtDecPv(ShtIncPv):
    __slots__ = ()
    delta = -1


class ShtRecordPv(Pv):
    """$shtrecord(key|value): the item being expired, in event_route[htable:expired:*]."""

    __slots__ = ("field",)

    def __init__(self, spec):
        super().__init__(spec)
        self.field = (spec.inner or "").strip()
        if self.field not in ("key", "value"):
            raise PvError(f"unknown pv name {self.field}", 0)

    def get(self, msg):
        rec = state.expired_record
        if rec is None:
            return None
        return rec[0] if self.field == "key" else rec[1]


class _IteratorPv(Pv):
    __slots__ = ("iname",)

    def __init__(self, spec):
        super().__init__(spec)
        self.iname = (spec.inner or "")
        if not self.iname:
            raise PvError("an iterator name is needed", 0)


class ShtItKeyPv(_IteratorPv):
    __slots__ = ()
    field = 0

    def get(self, msg):
        cur = state.iterator_current(self.iname)
        return None if cur is None else cur[self.field]


class ShtItValPv(ShtItKeyPv):
    __slots__ = ()
    field = 1


PVS = [
    PvDef("sht", ShtPv, inner="required"),
    PvDef("shtex", ShtExPv, inner="required"),
    PvDef("shtcn", ShtCnPv, inner="required"),
    PvDef("shtcv", ShtCvPv, inner="required"),
    PvDef("shtinc", ShtIncPv, inner="required"),
    PvDef("shtdec", ShtDecPv, inner="required"),
    PvDef("shtrecord", ShtRecordPv, inner="required"),
    PvDef("shtitkey", ShtItKeyPv, inner="required"),
    PvDef("shtitval", ShtItValPv, inner="required"),
]
