"""Printing results: -F json (indented JSON), table (aligned columns for lists of flat
records, key/value rows for a flat record, an indented tree for nested results such as
ul.dump, one line per item otherwise) or raw (the server's reply exactly as received)."""

from __future__ import annotations

import json

FORMATS = ("table", "json", "raw")


def as_json(result) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False)


def _cell(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if value is None:
        return ""
    return str(value)


def _columns(rows: list[list[str]], header: list[str] | None = None) -> str:
    table = ([header] if header else []) + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    if header:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _structured(v) -> bool:
    """A value a table cell cannot show well: a record, or a list holding records/lists."""
    return (isinstance(v, dict) and bool(v)) or (
        isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v))


def _nested(value) -> bool:
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return any(_structured(v) for v in items)


def _tree(value, indent: int, out: list[str]):
    pad = "  " * indent
    if isinstance(value, dict):
        width = max((len(str(k)) for k in value if not isinstance(value[k], (dict, list))), default=0)
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{k}:")
                _tree(v, indent + 1, out)
            else:
                out.append(f"{pad}{str(k).ljust(width)}  {_cell(v)}".rstrip())
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}- [{i}]")
                _tree(v, indent + 1, out)
            else:
                out.append(f"{pad}- {_cell(v)}")
    else:
        out.append(pad + _cell(value))


def as_tree(result) -> str:
    """An indented tree (kamcli's way with nested RPC results)."""
    out: list[str] = []
    _tree(result, 0, out)
    return "\n".join(out)


def as_table(result) -> str:
    if isinstance(result, dict) and _nested(result):
        return as_tree(result)
    if isinstance(result, list) and any(_nested(r) or isinstance(r, list) for r in result):
        return as_tree(result)
    if isinstance(result, dict):
        if not result:
            return ""
        return _columns([[str(k), _cell(v)] for k, v in result.items()])
    if isinstance(result, list):
        if result and all(isinstance(r, dict) for r in result):
            keys: list[str] = []
            for r in result:
                keys += [k for k in r if k not in keys]
            return _columns([[_cell(r.get(k)) for k in keys] for r in result], keys)
        return "\n".join(_cell(v) for v in result)
    return _cell(result)


def render(result, fmt: str, raw: bytes | None = None) -> str:
    if fmt == "raw" and raw is not None:
        return raw.decode("utf-8", "replace").rstrip("\n")
    if fmt == "json" or fmt == "raw":
        return as_json(result)
    return as_table(result)
