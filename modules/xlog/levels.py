"""xlog's level and facility arguments: "L_ERR" ... resolved at load time, or a
pseudo-variable read per message (its integer value is a Kamailio level)."""

from __future__ import annotations

from kamapy.log import LEVEL_NAMES, SYSLOG_FACILITIES, python_level
from kamapy.pv import parse_pv

# Kamailio decides on the third letter of the name ("L_E..." is an error), so accept
# every spelling that has it, as Kamailio does
_BY_LETTER = {"A": -5, "B": -4, "C": -2, "E": -1, "W": 0, "N": 1, "I": 2, "D": 3}


class Level:
    """A static Python logging level, or a PV giving a Kamailio level per message."""

    __slots__ = ("static", "pv")

    def __init__(self, static=None, pv=None):
        self.static = static
        self.pv = pv

    def python_level(self, msg) -> int:
        if self.pv is None:
            return self.static
        value = self.pv.get(msg)
        try:
            return python_level(int(value))
        except (TypeError, ValueError):
            return python_level(-1)


def parse_level(value) -> Level:
    text = str(value).strip()
    if text.startswith("$"):
        return Level(pv=parse_pv(text))
    if text in LEVEL_NAMES:
        return Level(static=python_level(LEVEL_NAMES[text]))
    if text.upper().startswith("L_") and len(text) > 2 and text[2].upper() in _BY_LETTER:
        return Level(static=python_level(_BY_LETTER[text[2].upper()]))
    try:
        return Level(static=python_level(int(text)))
    except ValueError:
        raise ValueError(f"unknown log level {value!r} (L_ALERT .. L_DBG or a $pv)") from None


def parse_facility(value) -> int:
    name = str(value).strip().upper()
    if name not in SYSLOG_FACILITIES:
        raise ValueError(f"unknown syslog facility {value!r}")
    return SYSLOG_FACILITIES[name]
