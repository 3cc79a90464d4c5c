"""Parameter-list transformations {param.*} over "a=1;b=2" (separator ';' unless given):
value, valueat, name, count, in."""

from __future__ import annotations

from ..errors import TransformError
from ..registry import TransformationDef
from ..values import to_str


def _params(v, separator: str) -> list[tuple[str, str]]:
    text = to_str(v)
    if not text:
        raise TransformError("empty parameter list")
    sep = separator[0] if separator else ";"
    if len(text) > 1 and text.endswith(sep):
        text = text[:-1]
    out = []
    for item in text.split(sep):
        item = item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out.append((name.strip(), value))
    return out


def value(v, name, separator=";"):
    lname = name.lower()
    for n, val in _params(v, separator):
        if n.lower() == lname:
            return val
    return ""


def contains(v, name, separator=";"):
    lname = name.lower()
    return 1 if any(n.lower() == lname for n, _ in _params(v, separator)) else 0


def _at(params, index):
    if index < 0:
        index += len(params)
    return params[index] if 0 <= index < len(params) else None


def value_at(v, index, separator=";"):
    found = _at(_params(v, separator), index)
    return found[1] if found else ""


def name_at(v, index, separator=";"):
    found = _at(_params(v, separator), index)
    return found[0] if found else ""


def count(v, separator=";"):
    return len(_params(v, separator))


TRANSFORMATIONS = [
    TransformationDef("param", "value", value, "s?1"),
    TransformationDef("param", "in", contains, "s?1"),
    TransformationDef("param", "valueat", value_at, "n?1"),
    TransformationDef("param", "name", name_at, "n?1"),
    TransformationDef("param", "count", count, "?c"),
]
