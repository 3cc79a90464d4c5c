"""How PV values look to the rest of kamapy.

A PV value is `str`, `int` or None ($null). Kamailio keeps a string and an integer
side by side; a PV returns `int` when Kamailio flags its value as an integer whose text
is that integer ($rs, $rp, $ml, $var(x) = 1 ...), and `str` otherwise ($rm, $pr, ...).
"""

from __future__ import annotations

NULL_TEXT = "<null>"


class IntStr(str):
    """A string that also carries an integer: what Kamailio's pv_get_strintval gives
    ($rp, $op, $dp, $nh(p), $rP ...). The script sees a string (`$rp + 1` concatenates:
    "50601"), while an int parameter (sl_send_reply("$rp", ...)) takes `.ri`."""

    __slots__ = ("ri",)

    def __new__(cls, text, ri: int):
        obj = super().__new__(cls, text)
        obj.ri = ri
        return obj


def int_side(value) -> int | None:
    """The integer an int parameter takes from a PV value, None when the value has none
    (a plain string: Kamailio's get_int_fparam fails on it)."""
    if value.__class__ is int:
        return value
    if value.__class__ is IntStr:
        return value.ri
    if isinstance(value, bool):
        return int(value)
    return None  # what a $null prints as inside a format string (pv_printf)


def to_str(value) -> str:
    """The string side of a value; $null becomes the empty string (as pv_get_null)."""
    if value is None:
        return ""
    if value.__class__ is str:
        return value
    return str(value)


def to_int(value) -> int | None:
    """The integer side of a value, Kamailio-style (str2sint: optional sign + digits);
    None when it is not a number."""
    n = int_side(value)
    if n is not None or value is None:
        return n
    text = str(value).strip()
    if not text:
        return None
    body = text[1:] if text[0] in "+-" else text
    if not body.isdigit():
        return None
    return int(text)
