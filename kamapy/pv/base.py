"""The pseudo-variable object every PV class derives from.

A Pv is built once, when the config is compiled, from a parsed spec (name, inner name,
index). Everything that can be resolved then is resolved then; `get(msg)` only does the
work that depends on the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import PvError, TransformError
from .values import NULL_TEXT


class IndexAll:
    """The `[*]` index: every value."""

    def __repr__(self):
        return "[*]"


class IndexIter:
    """The `[+]` index: iterate (used by a few module PVs)."""

    def __repr__(self):
        return "[+]"


INDEX_ALL = IndexAll()
INDEX_ITER = IndexIter()


@dataclass
class PvSpec:
    """What the parser found in `$name(inner)[index]`.

    inner: the text between the name's parentheses, None when absent;
    inner_pv: the same as a Pv when the inner name is itself a PV ($hdr($var(h)));
    index: None, an int, INDEX_ALL, INDEX_ITER, or a Pv ($(avp(x)[$var(i)]));
    text: the whole spec as written (for messages).
    """

    name: str
    inner: str | None = None
    inner_pv: Any = None
    index: Any = None
    text: str = ""


class Pv:
    """Base class: read-only, value $null. Subclasses override get (and set)."""

    __slots__ = ("name", "text")
    writable = False
    is_static = False

    def __init__(self, spec: PvSpec):
        self.name = spec.name
        self.text = spec.text

    def get(self, msg):
        return None

    def set(self, msg, value):
        raise PvError(f"pseudo-variable {self.text} is read-only")

    def printed(self, msg) -> str:
        """The text this PV contributes to a format string (pv_printf)."""
        value = self.get(msg)
        if value is None:
            return NULL_TEXT
        return value if value.__class__ is str else str(value)

    def __repr__(self):
        return f"<{self.__class__.__name__} {self.text}>"


class NumberIndexPv(Pv):
    """A PV whose [n] must be a number or a PV (default 0): $ai, $pu, $pU, $pd, $pn."""

    __slots__ = ("index",)

    def __init__(self, spec):
        super().__init__(spec)
        self.index = 0 if spec.index is None else spec.index
        if not isinstance(self.index, (int, Pv)):
            raise PvError("only a number index is allowed here", 0)


def resolve_index(index, msg):
    """The index for this message: static ones pass through, a PV index is read (an
    int is expected, as pv_get_spec_index wants)."""
    if isinstance(index, Pv):
        value = index.get(msg)
        if value.__class__ is int:
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise TransformError(f"invalid index value {value!r}") from None
    return index


def pick_index(values, index):
    """values[index] with Kamailio's index rules: None = first, negative counts from
    the end, out of range = None."""
    if index is None:
        return values[0] if values else None
    if index < 0:
        index += len(values)
        if index < 0:
            return None
    if index >= len(values):
        return None
    return values[index]


def fn_pv(name: str, getter, setter=None) -> type:
    """A Pv class whose get is `getter(msg)` (and set `setter(msg, value)`): the
    shape of most core PVs, with no per-read indirection beyond the call itself."""
    attrs = {"__slots__": (), "get": staticmethod(getter), "__doc__": getter.__doc__}
    if setter is not None:
        attrs["set"] = staticmethod(setter)
        attrs["writable"] = True
    return type(name, (Pv,), attrs)
