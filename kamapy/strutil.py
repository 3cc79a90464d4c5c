"""Text-to-number conversions modules share, as Kamailio's core ut.h gives them (str2sint)
and as its modules call libc (atoi). Both keep what was read before the first character
that is not a digit ("12ab" is 12, "ab" 0); neither raises."""

from __future__ import annotations

_INT_MAX = 2**31 - 1
_LONG_MAX = 2**63 - 1
_C_SPACE = " \t\n\v\f\r"  # C isspace(); str.strip() would also take Unicode blanks


def _signed_prefix(text: str, limit: int) -> int:
    """An optional sign, then digits up to the first other character, clamped to
    [-limit - 1, limit] (C's INT_MIN..INT_MAX or LONG_MIN..LONG_MAX)."""
    i, neg = 0, False
    if text[:1] in ("+", "-"):
        neg, i = text[0] == "-", 1
    top = limit + neg
    n = 0
    for c in text[i:]:
        if not "0" <= c <= "9":
            break
        n = n * 10 + (ord(c) - 48)
        if n > top:
            n = top
            break
    return -n if neg else n


def str2sint(text: str) -> int:
    """Kamailio's str2sint(): the value it leaves in *_r, also where it returns -1 (a
    character that is not a digit, or overflow: clamped to a C int). No blanks are
    skipped; the caller gives it a trimmed token (a parsed parameter's body)."""
    return _signed_prefix(text, _INT_MAX)


def atoi(text: str) -> int:
    """C's atoi() as glibc does it: leading blanks skipped, then strtol (clamped to a
    long), the result cut to an int (its low 32 bits, two's complement)."""
    n = _signed_prefix(text.lstrip(_C_SPACE), _LONG_MAX)
    return (n + 2**31) % 2**32 - 2**31
