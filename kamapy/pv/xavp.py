"""$xavp(root[i]=>field[j]): extended AVPs, lists of named records, per message and
transaction. msg.xavps = {root: [item, ... newest first]}, an item being a record
{field: [values, newest first]} or a plain value.

Kamailio's assignment rules:
  $xavp(a=>b) = v         a new record {b: [v]} in front of a
  $xavp(a[0]=>b) = v      v added in front of field b of the newest record
  $xavp(a[0]=>b[0]) = v   the newest value of b replaced
  $xavp(a) = v            a plain value in front of a; $xavp(a[i]) = v replaces item i
  ... = $null             removes: the newest (no index), item i, or all ([*])
"""

from __future__ import annotations

from .base import INDEX_ALL, Pv, resolve_index
from .errors import PvError, TransformError
from .registry import PvDef
from .values import to_str


class XavpKey:
    """One `name[index]` of the spec; index None when not written."""

    __slots__ = ("name", "index")

    def __init__(self, name, index):
        self.name = name
        self.index = index


def _parse_key(text: str, col: int) -> XavpKey:
    from .parse import _parse_index

    text = text.strip()
    lb = text.find("[")
    if lb < 0:
        name, index = text, None
    else:
        if not text.endswith("]"):
            raise PvError(f"invalid xavp name {text!r}", col)
        name, index = text[:lb], _parse_index(text[lb + 1:-1], col + lb + 1)
    if not name or any(c in name for c in " \t=[]"):
        raise PvError(f"invalid xavp name {text!r}", col)
    return XavpKey(name, index)


def _index(key: XavpKey, msg):
    return 0 if key.index is None else resolve_index(key.index, msg)


def _at(values: list, index: int):
    if index < 0:
        index += len(values)
    if 0 <= index < len(values):
        return index
    return None


def _text(value) -> str:
    if isinstance(value, dict):
        return f"<<xavp:{id(value):#x}>>"
    return to_str(value)


class XavpPv(Pv):
    __slots__ = ("root", "field")
    writable = True

    def __init__(self, spec):
        super().__init__(spec)
        inner = spec.inner
        arrow = inner.find("=>")
        if arrow < 0:
            self.root, self.field = _parse_key(inner, 0), None
        else:
            self.root = _parse_key(inner[:arrow], 0)
            self.field = _parse_key(inner[arrow + 2:], arrow + 2)

    # ------------------------------------------------------------ read
    def get(self, msg):
        xavps = msg.xavps
        if not xavps:
            return None
        items = xavps.get(self.root.name)
        if not items:
            return None
        try:
            if self.root.index is INDEX_ALL:
                return None
            pos = _at(items, _index(self.root, msg))
            if pos is None:
                return None
            item = items[pos]
            if self.field is None:
                return _text(item) if isinstance(item, dict) else item
            if not isinstance(item, dict):
                return None
            values = item.get(self.field.name)
            if not values:
                return None
            if self.field.index is INDEX_ALL:
                return ",".join(_text(v) for v in values)
            pos = _at(values, _index(self.field, msg))
        except TransformError:
            return None
        if pos is None:
            return None
        value = values[pos]
        return _text(value) if isinstance(value, dict) else value

    # ------------------------------------------------------------ write
    def set(self, msg, value):
        try:
            if value is None:
                self._remove(msg)
            else:
                self._assign(msg, value if value.__class__ in (int, str) else to_str(value))
        except TransformError:
            return -1
        return None

    def _remove(self, msg):
        xavps = msg.xavps
        if not xavps or self.root.name not in xavps:
            return
        items = xavps[self.root.name]
        root, field = self.root, self.field
        if field is None:
            if root.index is INDEX_ALL:
                del xavps[root.name]
                return
            pos = _at(items, _index(root, msg))
            if pos is not None:
                del items[pos]
        else:
            if root.index is INDEX_ALL:
                targets = items
            else:
                pos = _at(items, _index(root, msg))
                targets = [] if pos is None else [items[pos]]
            for item in targets:
                if isinstance(item, dict) and field.name in item:
                    values = item[field.name]
                    if field.index is INDEX_ALL:
                        del item[field.name]
                        continue
                    pos = _at(values, _index(field, msg))
                    if pos is not None:
                        del values[pos]
                    if not values:
                        del item[field.name]
        if not items:
            del xavps[root.name]

    def _assign(self, msg, value):
        xavps = msg.xavps
        if xavps is None:
            xavps = msg.xavps = {}
        root, field = self.root, self.field
        items = xavps.get(root.name)
        if field is None:
            if root.index is None:
                xavps.setdefault(root.name, []).insert(0, value)
                return
            if root.index is INDEX_ALL or not items:
                return
            pos = _at(items, _index(root, msg))
            if pos is not None:
                items[pos] = value
            return
        if root.index is None:  # a new record in front
            xavps.setdefault(root.name, []).insert(0, {field.name: [value]})
            return
        if root.index is INDEX_ALL or not items:
            return
        pos = _at(items, _index(root, msg))
        if pos is None or not isinstance(items[pos], dict):
            return
        record = items[pos]
        if field.index is None:
            record.setdefault(field.name, []).insert(0, value)
            return
        if field.index is INDEX_ALL:
            return
        values = record.get(field.name)
        if values:
            at = _at(values, _index(field, msg))
            if at is not None:
                values[at] = value


PVS = [PvDef("xavp", XavpPv, inner="required")]


def xavp_insert(msg, name: str, item, idx: int):
    """Put item at position idx of msg's xavps called name, as Kamailio's xavp_insert
    does for per-branch records (registrar lookup: position = branch index): a None
    placeholder there is replaced; a shorter list is padded with None placeholders;
    at 0 with no placeholder it goes in front."""
    xavps = msg.xavps
    if xavps is None:
        xavps = msg.xavps = {}
    items = xavps.setdefault(name, [])
    if idx == 0 and (not items or items[0] is not None):
        items.insert(0, item)
    elif idx < len(items):
        if items[idx] is None:
            items[idx] = item
        else:
            items.insert(idx, item)
    else:
        items.extend([None] * (idx - len(items)))
        items.append(item)


def xavp_add_field(msg, name: str, field: str, value):
    """A value in front of field of the newest record of name (a new record when name
    has none): Kamailio's xavp_add_value into an existing root, or a new root."""
    xavps = msg.xavps
    if xavps is None:
        xavps = msg.xavps = {}
    items = xavps.setdefault(name, [])
    if not items or not isinstance(items[0], dict):
        items.insert(0, {})
    items[0].setdefault(field, []).insert(0, value)
