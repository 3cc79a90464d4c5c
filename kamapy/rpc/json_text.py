"""JSON text laid out the way Kamailio's jsonrpcs prints it (srjson, a cJSON fork).

Clients depend on the layout, not only on the data: kamctl's RPCFIFO engine runs the
reply through awk, which expects an array of scalars on one line and tab-indented
object members (`"key":<TAB>value`). So replies are not printed with json.dumps:

    {
    \t"jsonrpc":\t"2.0",
    \t"result":\t["a", "b"],
    \t"id":\t1
    }

pretty=False gives the unformatted variant (jsonrpcs' pretty_format=0).
"""

from __future__ import annotations

import math

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(text: str) -> str:
    """A JSON string literal: the usual escapes, other control characters as \\uXXXX,
    everything else (non-ASCII included) as is."""
    out = []
    for ch in text:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def number(value) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return "null"  # not representable in JSON
    if value.is_integer() and abs(value) < 1e60:
        return f"{value:.0f}"
    if abs(value) < 1.0e-6 or abs(value) > 1.0e9:
        return f"{value:e}"
    return f"{value:f}"


def dumps(value, pretty: bool = True) -> str:
    return _value(value, 0, pretty)


def _value(value, depth: int, pretty: bool) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, bytes):
        return quote(value.decode("utf-8", "replace"))
    if isinstance(value, dict):
        return _object(value, depth, pretty)
    if isinstance(value, (list, tuple)):
        return _array(value, depth, pretty)
    return quote(str(value))


def _array(items, depth: int, pretty: bool) -> str:
    if not items:
        return "[]"
    sep = ", " if pretty else ","
    return "[" + sep.join(_value(v, depth + 1, pretty) for v in items) + "]"


def _object(members: dict, depth: int, pretty: bool) -> str:
    if not pretty:
        return "{" + ",".join(f"{quote(str(k))}:{_value(v, depth + 1, False)}"
                              for k, v in members.items()) + "}"
    inner = "\t" * (depth + 1)
    lines = [f"{inner}{quote(str(k))}:\t{_value(v, depth + 1, True)}" for k, v in members.items()]
    if not lines:
        return "{\n" + "\t" * depth + "}"
    return "{\n" + ",\n".join(lines) + "\n" + "\t" * depth + "}"
