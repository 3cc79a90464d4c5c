"""kamapy.strutil: str2sint as Kamailio's ut.h leaves its value, atoi as glibc gives it."""

from __future__ import annotations

import pytest

from kamapy.strutil import atoi, str2sint


@pytest.mark.parametrize("text, want", [
    ("12", 12), ("+7", 7), ("-42", -42), ("12ab", 12), ("-3x", -3), ("ab", 0), ("", 0),
    ("-", 0), (" 5", 0),  # no blanks skipped: the caller trims
    ("2147483647", 2**31 - 1), ("2147483648", 2**31 - 1), ("99999999999", 2**31 - 1),
    ("-2147483648", -2**31), ("-2147483649", -2**31),
    ("\u00b2", 0),  # a Unicode digit is not a digit to C
])
def test_str2sint(text, want):
    assert str2sint(text) == want


@pytest.mark.parametrize("text, want", [
    ("  12", 12), ("\t\n-8 9", -8), ("20040107\n", 20040107), ("E8", 0), ("", 0),
    ("\u00a01", 0),  # a no-break space is not C isspace()
    ("3000000000", 3000000000 - 2**32),  # strtol's long, cut to an int
    ("99999999999999999999", -1),  # clamped to LONG_MAX, whose low 32 bits are -1
])
def test_atoi(text, want):
    assert atoi(text) == want
