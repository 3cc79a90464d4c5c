"""Kamailio's rvalue semantics (rvalue.c): how script values convert and compare.

A script value is an int, a str, or None (undefined: an unset PV, $null).

  - to int: None and "" are 0; a decimal or 0x-hex string is its number; any other
    string is 0 (Kamailio warns and goes on);
  - to str: None is "", an int its decimal text;
  - `==` / `!=`: the LEFT operand's type decides — int compares as ints, str as
    strings; an undefined left takes the right one's type (so "10" == 10 is a string
    comparison, true; 10 == "10" an int comparison, true; "a" == 0 is false);
  - `+`: int + anything is an int sum, str (or undefined) + anything concatenates;
  - everything else arithmetic, bitwise or ordering works on ints;
  - `=~` is a case-insensitive extended regex search; eq/ne compare strings, ieq/ine ints.
"""

from __future__ import annotations

import re

_DEC = re.compile(r"[+-]?[0-9]+")


def to_int(v) -> int:
    if v.__class__ is int:
        return v
    if v is None or v == "":
        return 0
    if v.__class__ is bool:
        return int(v)
    s = str(v)
    if _DEC.fullmatch(s):
        return int(s)
    if len(s) > 2 and s[0] == "0" and s[1] in "xX":
        try:
            return int(s[2:], 16)
        except ValueError:
            return 0
    return 0


def to_str(v) -> str:
    if v.__class__ is str:
        return v
    if v is None:
        return ""
    return str(int(v)) if v.__class__ is bool else str(v)


def equal(a, b) -> bool:
    if a.__class__ is int:
        return a == to_int(b)
    if a is None:
        if b.__class__ is int:
            return b == 0
        return to_str(b) == ""
    return a == to_str(b)


def plus(a, b):
    if a.__class__ is int:
        return a + to_int(b)
    return to_str(a) + to_str(b)


def c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero); division by zero gives 0 (Kamailio logs an error)."""
    if b == 0:
        return 0
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def c_mod(a: int, b: int) -> int:
    if b == 0:
        return 0
    return a - b * c_div(a, b)


_regex_cache: dict[str, re.Pattern | None] = {}


def regex(pattern: str) -> re.Pattern | None:
    """A script regex (POSIX extended, case-insensitive); None if it does not compile."""
    rx = _regex_cache.get(pattern, False)
    if rx is False:
        try:
            rx = re.compile(pattern, re.IGNORECASE)
        except re.error:
            rx = None
        if len(_regex_cache) < 1024:
            _regex_cache[pattern] = rx
    return rx


def match(value, pattern) -> bool:
    rx = regex(to_str(pattern))
    return rx is not None and rx.search(to_str(value)) is not None
