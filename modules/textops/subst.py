"""sed-like substitutions: subst('/re/repl/flags'), subst_uri, subst_user, subst_body
(Kamailio: core/re.c subst_parser + textops).

Flags: i ignore case, g every match, s REG_NEWLINE (without it '.' crosses lines and
'^'/'$' are the ends of the whole text). The replacement may hold \\0..\\9 (the match
and its groups), \\n \\r \\t, an escaped delimiter, and pseudo-variables.
"""

from __future__ import annotations

import re

from kamapy.pv import parse_pv
from kamapy.pv.syntax import pv_end
from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import replace_range

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


class SubstExpr:
    __slots__ = ("regex", "parts", "replace_all", "text")

    def __init__(self, regex, parts, replace_all, text):
        self.regex = regex
        self.parts = parts  # str literals, int group numbers, Pv objects
        self.replace_all = replace_all
        self.text = text

    def expand(self, msg, m) -> str:
        out = []
        for p in self.parts:
            if p.__class__ is str:
                out.append(p)
            elif p.__class__ is int:
                out.append(m.group(p) or "")
            else:
                out.append(p.printed(msg))
        return "".join(out)

    def apply(self, msg, text: str) -> str | None:
        """The substituted text, or None when nothing matched (for subst_uri/user)."""
        out = []
        pos = 0
        n = 0
        for m in self.regex.finditer(text):
            out.append(text[pos:m.start()])
            out.append(self.expand(msg, m))
            pos = m.end()
            n += 1
            if not self.replace_all:
                break
        if not n:
            return None
        out.append(text[pos:])
        return "".join(out)


def _split(expr: str) -> tuple[str, str, str]:
    if len(expr) < 4:
        raise ValueError(f"subst expression {expr!r} too short")
    delim = expr[0]
    fields = []
    cur = []
    i = 1
    while i < len(expr) and len(fields) < 2:
        c = expr[i]
        if c == "\\" and i + 1 < len(expr) and expr[i + 1] == delim:
            cur.append(delim if len(fields) else "\\" + delim)
            i += 2
            continue
        if c == "\\" and i + 1 < len(expr):
            cur.append(expr[i:i + 2])
            i += 2
            continue
        if c == delim:
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if len(fields) < 2:
        raise ValueError(f"subst expression {expr!r}: missing {delim!r}")
    return fields[0], fields[1], expr[i:]


def _replacement_parts(text: str) -> list:
    parts: list = []
    lit = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt.isdigit():
                if lit:
                    parts.append("".join(lit))
                    lit = []
                parts.append(int(nxt))
            else:
                lit.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if c == "$":
            end = pv_end(text, i, allow_index=True)
            if lit:
                parts.append("".join(lit))
                lit = []
            parts.append(parse_pv(text[i:end]))
            i = end
            continue
        lit.append(c)
        i += 1
    if lit:
        parts.append("".join(lit))
    return parts


def parse_subst(expr) -> SubstExpr:
    """'/re/repl/flags' -> SubstExpr; ValueError on a bad expression (load time)."""
    if isinstance(expr, SubstExpr):
        return expr
    pattern, repl, flags = _split(str(expr))
    cflags = 0
    replace_all = False
    for f in flags:
        if f == "i":
            cflags |= re.IGNORECASE
        elif f == "g":
            replace_all = True
        elif f == "s":
            cflags |= re.MULTILINE
        else:
            raise ValueError(f"unknown subst flag {f!r}")
    if not cflags & re.MULTILINE:
        cflags |= re.DOTALL
    try:
        regex = re.compile(pattern, cflags)
    except re.error as e:
        raise ValueError(f"bad regular expression {pattern!r}: {e}") from None
    return SubstExpr(regex, _replacement_parts(repl), replace_all, str(expr))


def _subst_range(msg, se: SubstExpr, start: int, end: int) -> int:
    text = msg.text
    n = 0
    for m in se.regex.finditer(text, start, end):
        if m.end() == m.start() and n:
            break
        replace_range(msg, m.start(), m.end(), se.expand(msg, m), "textops")
        n += 1
        if not se.replace_all:
            break
    return 1 if n else -1


def subst(msg, se: SubstExpr) -> int:
    return _subst_range(msg, se, msg.first_line_end + len(msg.nl), len(msg.text))


def subst_body(msg, se: SubstExpr) -> int:
    _ = msg.body
    if msg.body_start >= len(msg.text):
        return -1
    return _subst_range(msg, se, msg.body_start, len(msg.text))


def subst_uri(msg, se: SubstExpr) -> int:
    new = se.apply(msg, msg.current_uri)
    if new is None:
        return -1
    msg.set_ruri(new)
    return 1


def subst_user(msg, se: SubstExpr) -> int:
    try:
        uri = msg.parsed_ruri
    except SipParseError:
        return -1
    new = se.apply(msg, uri.user)
    if new is None:
        return -1
    msg.set_ruri(uri.replace(user=new))
    return 1
