"""str <-> wire bytes. The message text is latin-1 (one char per byte); text that
kamapy adds (config strings, module output) may hold other characters: those go out
as UTF-8."""

from __future__ import annotations


def to_wire(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def join_wire(parts: list[str]) -> bytes:
    """Join message pieces into bytes: latin-1 at once when possible (the usual case)."""
    s = "".join(parts)
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return b"".join(to_wire(p) for p in parts)
