"""$avp(name): attribute-value pairs of a message (and of its transaction: tm carries
msg.avps along). msg.avps = {name: [values, newest first]}.

Assigning adds a value in front; `$avp(x) = $null` removes the newest,
`$(avp(x)[*]) = $null` removes all, `$(avp(x)[*]) = v` replaces all with v.
`$(avp(x)[*])` reads all joined by ",". Names: `x` and `s:x` are one string name,
`i:5` is the integer name 5; a PV gives the name per message.
"""

from __future__ import annotations

from .base import INDEX_ALL, Pv, pick_index, resolve_index
from .errors import PvError, TransformError
from .registry import PvDef
from .values import to_int, to_str


def parse_avp_name(text: str):
    """`x` / `s:x` -> "x"; `i:5` -> 5."""
    text = text.strip()
    if len(text) > 2 and text[1] == ":" and text[0] in "sSiI":
        kind, text = text[0].lower(), text[2:]
        if kind == "i":
            n = to_int(text)
            if n is None:
                raise PvError(f"invalid integer AVP name {text!r}", 2)
            return n
    if not text:
        raise PvError("empty AVP name", 0)
    return text


def avp_values(msg, name) -> list:
    avps = msg.avps
    if not avps:
        return []
    return avps.get(name) or []


def add_avp(msg, name, value):
    avps = msg.avps
    if avps is None:
        avps = msg.avps = {}
    values = avps.get(name)
    if values is None:
        avps[name] = [value]
    else:
        values.insert(0, value)


def delete_avps(msg, name, all_values: bool):
    avps = msg.avps
    if not avps:
        return
    values = avps.get(name)
    if not values:
        return
    if all_values or len(values) == 1:
        del avps[name]
    else:
        del values[0]


class AvpPv(Pv):
    __slots__ = ("avp_name", "name_pv", "index")
    writable = True

    def __init__(self, spec):
        super().__init__(spec)
        self.name_pv = spec.inner_pv
        self.avp_name = None if self.name_pv is not None else parse_avp_name(spec.inner)
        self.index = spec.index

    def _name(self, msg):
        if self.name_pv is None:
            return self.avp_name
        value = self.name_pv.get(msg)
        if value is None or value == "":
            return None
        return value if value.__class__ is int else to_str(value)

    def get(self, msg):
        name = self._name(msg)
        if name is None:
            return None
        values = avp_values(msg, name)
        if not values:
            return None
        index = self.index
        if index is None:
            return values[0]
        if index is INDEX_ALL:
            return ", ".join(to_str(v) for v in values)
        try:
            return pick_index(values, resolve_index(index, msg))
        except TransformError:
            return None

    def set(self, msg, value):
        name = self._name(msg)
        if name is None:
            return -1
        every = self.index is INDEX_ALL
        if value is None:
            delete_avps(msg, name, every)
            return None
        if every:
            delete_avps(msg, name, True)
        if value.__class__ not in (int, str):
            value = int(value) if isinstance(value, int) else to_str(value)
        add_avp(msg, name, value)
        return None


PVS = [PvDef("avp", AvpPv, inner="required", index=True)]
