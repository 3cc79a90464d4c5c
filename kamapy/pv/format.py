"""compile_format: a string with PVs in it -> the plain string, or a fast callable.

Kamailio's pv_parse_format/pv_printf: text and PVs alternate; `$$` prints "$"; a $null
prints "<null>"; a PV whose read fails (a transformation on a bad value) prints nothing;
an unknown PV or bad syntax is a config error.
"""

from __future__ import annotations

from typing import Callable

from .errors import PvError
from .parse import parse_pv
from .syntax import pv_end


def split_format(text: str) -> list:
    """The format as a list of literal strings and Pv objects (adjacent text merged)."""
    items: list = []
    pos = 0
    n = len(text)
    while pos < n:
        dollar = text.find("$", pos)
        if dollar < 0:
            _add_text(items, text[pos:])
            break
        if dollar > pos:
            _add_text(items, text[pos:dollar])
        try:
            end = pv_end(text, dollar, allow_index=False)
            pv = parse_pv(text[dollar:end])
        except PvError as e:
            raise PvError(e.message, dollar + e.col) from None
        if text[dollar + 1] == "$" or text[dollar:end] == "$($)":
            _add_text(items, "$")
        else:
            items.append(pv)
        pos = end
    return items


def _add_text(items: list, literal: str):
    if items and items[-1].__class__ is str:
        items[-1] += literal
    else:
        items.append(literal)


def compile_format(text: str) -> str | Callable:
    """Return `text` itself when it holds no PV (`$$` already unescaped), else
    f(msg) -> str."""
    items = split_format(text)
    if not items:
        return ""
    if len(items) == 1:
        item = items[0]
        if item.__class__ is str:
            return item
        return item.printed
    if len(items) == 2:
        a, b = items
        if a.__class__ is str:
            b_print = b.printed
            return lambda msg: a + b_print(msg)
        if b.__class__ is str:
            a_print = a.printed
            return lambda msg: a_print(msg) + b
    parts = tuple(item if item.__class__ is str else item.printed for item in items)
    is_text = tuple(p.__class__ is str for p in parts)
    pairs = tuple(zip(is_text, parts, strict=True))

    def render(msg) -> str:
        return "".join([p if t else p(msg) for t, p in pairs])

    return render
