"""Where a pseudo-variable ends, and what its parts are — the text level only.

Kamailio's forms (pvapi.c pv_parse_spec2 / pv_locate_name):
    $$                         the marker ("$")
    $name                      name chars: letters, digits, '_', '.', '?'
    $name(inner)               inner name, parentheses may nest ($hdr($var(h)))
    $(name(inner)[index]{tr.x,p}{tr.y})   index and transformations only in this form
In config code (not in format strings) kamapy also accepts `$name(inner)[index]`,
which Kamailio's lexer rejects, so configs written for Kamailio never differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import PvError

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.?")


def _close(text: str, pos: int, open_ch: str, close_ch: str, start: int) -> int:
    """Index of the bracket closing the one at `pos` (nesting counted)."""
    depth = 0
    n = len(text)
    i = pos
    while i < n:
        ch = text[i]
        if ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise PvError(f"missing '{close_ch}' in pseudo-variable {text[start:]!r}", pos - start)


def pv_end(text: str, pos: int = 0, allow_index: bool = True) -> int:
    """The offset just after the PV starting at text[pos] == '$'.

    allow_index: accept a `[index]` right after `$name(inner)` (config code); format
    strings pass False, as Kamailio prints such a `[..]` as text.
    """
    n = len(text)
    if pos >= n or text[pos] != "$":
        raise PvError("pseudo-variable must start with '$'", 0)
    i = pos + 1
    if i < n and text[i] == "$":
        return i + 1
    if i < n and text[i] == "(":
        return _close(text, i, "(", ")", pos) + 1
    while i < n and text[i] in NAME_CHARS:
        i += 1
    if i == pos + 1:
        raise PvError(f"missing pseudo-variable name after '$' in {text[pos:pos + 20]!r}", 1)
    if i < n and text[i] == "(":
        i = _close(text, i, "(", ")", pos) + 1
        if allow_index and i < n and text[i] == "[":
            i = _close(text, i, "[", "]", pos) + 1
    return i


@dataclass
class SpecParts:
    """The pieces of one PV as text; `*_col` are offsets into the parsed text."""

    name: str
    name_col: int = 0
    inner: str | None = None
    inner_col: int = 0
    index: str | None = None
    index_col: int = 0
    transformations: list[tuple[str, int]] = field(default_factory=list)
    marker: bool = False


def _enclosed(text: str, i: int, opening: str, closing: str, what: str):
    """The non-empty text between the bracket at i and its match, and the offset after it."""
    close = _close(text, i, opening, closing, 0)
    body = text[i + 1:close]
    if not body:
        raise PvError(f"empty {what} in {text!r}", i + 1)
    return body, close + 1


def split_spec(text: str) -> SpecParts:
    """Split one whole PV (as pv_end delimits it) into name, inner, index and
    transformation texts. Raises PvError with the column of the fault."""
    n = len(text)
    if n < 2 or text[0] != "$":
        raise PvError(f"invalid pseudo-variable {text!r}", 0)
    if text == "$$" or text == "$($)":
        return SpecParts("$", marker=True)
    wrapped = text[1] == "("
    i = 2 if wrapped else 1
    start = i
    while i < n and text[i] in NAME_CHARS:
        i += 1
    if i == start:
        raise PvError(f"missing pseudo-variable name in {text!r}", i)
    parts = SpecParts(text[start:i], start)
    if i < n and text[i] == "(":
        parts.inner_col = i + 1
        parts.inner, i = _enclosed(text, i, "(", ")", "inner name")
    if i < n and text[i] == "[":
        parts.index_col = i + 1
        parts.index, i = _enclosed(text, i, "[", "]", "index")
    if wrapped:
        while i < n and text[i] == "{":
            close = _close(text, i, "{", "}", 0)
            parts.transformations.append((text[i + 1:close], i + 1))
            i = close + 1
            while i < n and text[i] in " \t\r\n":
                i += 1
        if i != n - 1 or text[i] != ")":
            raise PvError(f"unexpected {text[i:i + 1]!r} in pseudo-variable {text!r}", i)
    elif i != n:
        raise PvError(f"unexpected {text[i]!r} in pseudo-variable {text!r}", i)
    return parts
