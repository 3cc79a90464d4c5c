"""Line transformations {line.*} over multi-line text: count, at, sw (starts with)."""

from __future__ import annotations

from ..errors import TransformError
from ..registry import TransformationDef
from ..values import to_str


def _lines(v) -> list[str]:
    text = to_str(v)
    if not text:
        raise TransformError("empty text")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def count(v):
    return len(_lines(v))


def at(v, index):
    lines = _lines(v)
    if index < 0:
        index += len(lines)
    return lines[index] if 0 <= index < len(lines) else ""


def starts_with(v, prefix):
    for line in _lines(v):
        if line.startswith(prefix):
            return line
    return ""


TRANSFORMATIONS = [
    TransformationDef("line", "count", count),
    TransformationDef("line", "at", at, "n"),
    TransformationDef("line", "sw", starts_with, "s"),
]
