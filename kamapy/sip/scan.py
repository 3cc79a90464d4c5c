"""Small scanners shared by the typed-body parsers: comma lists and ;parameters.

Both respect quoted strings (with backslash escapes) and <...> brackets, so a comma or
semicolon inside a display name or a URI does not split. They work on spans (offsets)
so callers that need positions in msg.text (Via, Contact) keep them.
"""

from __future__ import annotations

from .errors import SipParseError

WS = " \t\r\n"


def split_commas(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans (s, e) of the comma-separated elements of text[start:end], whitespace-trimmed.

    Empty elements (",," or a trailing comma) are skipped, as Kamailio's list parsers do.
    """
    if end is None:
        end = len(text)
    # fast path: no quote, no bracket -> plain split on commas
    seg = text[start:end]
    if '"' not in seg and "<" not in seg:
        spans = []
        pos = start
        for part in seg.split(","):
            s = pos
            e = pos + len(part)
            pos = e + 1
            while s < e and text[s] in WS:
                s += 1
            while e > s and text[e - 1] in WS:
                e -= 1
            if e > s:
                spans.append((s, e))
        return spans
    spans = []
    s = i = start
    while i < end:
        c = text[i]
        if c == '"':
            i = skip_quoted(text, i, end)
            continue
        if c == "<":
            j = text.find(">", i, end)
            if j < 0:
                raise SipParseError("unclosed <")
            i = j + 1
            continue
        if c == ",":
            _add_trimmed(text, s, i, spans)
            s = i + 1
        i += 1
    _add_trimmed(text, s, end, spans)
    return spans


def _add_trimmed(text, s, e, spans):
    while s < e and text[s] in WS:
        s += 1
    while e > s and text[e - 1] in WS:
        e -= 1
    if e > s:
        spans.append((s, e))


def skip_quoted(text: str, i: int, end: int) -> int:
    """Given text[i] == '"', the offset just past the closing quote."""
    j = text.find('"', i + 1, end)
    if j < 0:
        raise SipParseError("unclosed quoted string")
    if text.find("\\", i + 1, j) < 0:  # no escapes: the first quote closes
        return j + 1
    i += 1
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        i += 1
    raise SipParseError("unclosed quoted string")


def parse_params(text: str) -> list[tuple[str, str | None]]:
    """';a=1;b;c="x;y"' (leading ';' optional) -> [("a", "1"), ("b", None), ("c", '"x;y"')].

    Names keep their case (compare with .lower()); values are kept as written, quotes
    included, so a rebuilt header is byte-identical.
    """
    if '"' not in text:  # the usual case: split and partition
        out = []
        for part in text.split(";"):
            name, eq, value = part.partition("=")
            if eq:
                name = name.strip(WS)
                value = value.strip(WS)
            else:
                name = name.strip(WS)
                if not name:
                    continue  # empty element (";;" or a trailing ';')
                value = None
            if not name:
                raise SipParseError("empty parameter name")
            out.append((name, value))
        return out
    out = []
    for s, e in param_spans(text, 0, len(text)):
        eq = text.find("=", s, e)
        if eq < 0:
            name = text[s:e].strip()
            value = None
        else:
            name = text[s:eq].strip()
            value = text[eq + 1:e].strip()
        if not name:
            raise SipParseError("empty parameter name")
        out.append((name, value))
    return out


def param_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the ;-separated parameters in text[start:end] (quotes respected)."""
    spans = []
    if '"' not in text[start:end]:
        pos = start
        for part in text[start:end].split(";"):
            s = pos
            e = pos + len(part)
            pos = e + 1
            _add_trimmed(text, s, e, spans)
        return spans
    s = i = start
    while i < end:
        c = text[i]
        if c == '"':
            i = skip_quoted(text, i, end)
            continue
        if c == ";":
            _add_trimmed(text, s, i, spans)
            s = i + 1
        i += 1
    _add_trimmed(text, s, end, spans)
    return spans


def find_param(params, name: str):
    """The value of the first parameter called name (any case); None if absent or flag-only."""
    name = name.lower()
    for n, v in params:
        if n.lower() == name:
            return v
    return None


def param_method(self, name: str) -> str | None:
    """A parameter's value; '' for a flag parameter; None when absent. The param()
    method of NameAddr and Via (assigned as a class attribute in both, so it costs no
    more than a method of their own)."""
    lname = name.lower()
    for n, v in self.params:
        if n.lower() == lname:
            return "" if v is None else v
    return None


def has_param(params, name: str) -> bool:
    name = name.lower()
    return any(n.lower() == name for n, _ in params)


def unquote(value: str) -> str:
    """Strip the quotes of a quoted-string and undo its backslash escapes."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        if "\\" in inner:
            out = []
            i = 0
            while i < len(inner):
                c = inner[i]
                if c == "\\" and i + 1 < len(inner):
                    i += 1
                    c = inner[i]
                out.append(c)
                i += 1
            return "".join(out)
        return inner
    return value


def parse_int(text: str, what: str, limit: int = 2**32 - 1) -> int:
    """A non-negative decimal integer (digits only), as the SIP grammar allows."""
    text = text.strip()
    if not text or not text.isdigit() or not text.isascii() or len(text) > 10:
        raise SipParseError(f"bad {what}")
    n = int(text)
    if n > limit:
        raise SipParseError(f"{what} out of range")
    return n


def split_tokens(value: str) -> list[str]:
    """'a, b ,c' -> ['a', 'b', 'c'] (Supported, Require, Allow ...)."""
    return [t for t in (p.strip() for p in value.split(",")) if t]
