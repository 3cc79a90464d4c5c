"""Where a pseudo-variable ends in config text (Kamailio's PVAR lexer states).

A PV is `$name`, `$name(inner)`, `$(inner{tr.x,a}{tr.y})` or `$name[idx]`; inside
the parentheses only parentheses are counted, exactly as cfg.lex does, so the
inner part may hold anything else (braces, quotes, other PVs).
"""

from __future__ import annotations

import re

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def pv_end(text: str, pos: int) -> int:
    """Index just past the PV starting at text[pos] == '$'; -1 if parentheses
    never close, -2 if no PV name follows the '$'."""
    n = len(text)
    i = pos + 1
    if i < n and text[i] == "?":  # $? is the last return code
        return i + 1
    if i < n and text[i] == "(":
        return _close_paren(text, i)
    m = _ID.match(text, i)
    if not m:
        return -2
    i = m.end()
    if i < n and text[i] == "(":
        return _close_paren(text, i)
    if i < n and text[i] == "[":  # $avp[1] style index
        j = text.find("]", i)
        return -1 if j < 0 else j + 1
    return i


def _close_paren(text: str, i: int) -> int:
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1
