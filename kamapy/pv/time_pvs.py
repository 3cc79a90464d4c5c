"""Time PVs. The message's own time ($Ts $Tf $time(...) $TV(s)) is read once per
message, when first asked, and then stays the same for that message (msg_set_time);
$TS $TF $TV(sn) ... read the clock each time."""

from __future__ import annotations

import time

from .base import Pv, fn_pv
from .errors import PvError
from .registry import PvDef

_TIME_FIELDS = {
    # name: struct_time -> value, with Kamailio's numbering (months 1-12, Sunday = 1)
    "sec": lambda t: t.tm_sec,
    "min": lambda t: t.tm_min,
    "hour": lambda t: t.tm_hour,
    "mday": lambda t: t.tm_mday,
    "mon": lambda t: t.tm_mon,
    "year": lambda t: t.tm_year,
    "wday": lambda t: (t.tm_wday + 1) % 7 + 1,  # Python: Monday = 0
    "yday": lambda t: t.tm_yday,
    "isdst": lambda t: max(t.tm_isdst, 0),
}


def message_time(msg) -> float:
    """The time the script first looked at the clock for this message."""
    return msg.cached("pv_time", _now)


def _now(msg) -> float:
    return time.time()


def _ctime(seconds: float) -> str:
    return time.ctime(int(seconds))  # "Thu Jan  1 00:00:00 1970", no newline


class TimePv(Pv):
    """$time(name) local time / $utime(name) UTC, of the message's time."""

    __slots__ = ("field",)
    utc = False

    def __init__(self, spec):
        super().__init__(spec)
        field = _TIME_FIELDS.get(spec.inner.strip())
        if field is None:
            raise PvError(f"unknown time attribute {spec.inner!r}", 0)
        self.field = field

    def get(self, msg):
        seconds = int(message_time(msg))
        return self.field(time.gmtime(seconds) if self.utc else time.localtime(seconds))


class UtcTimePv(TimePv):
    __slots__ = ()
    utc = True


class StrftimePv(Pv):
    """$timef(format) local / $utimef(format) UTC: strftime of the message's time."""

    __slots__ = ("fmt",)
    utc = False

    def __init__(self, spec):
        super().__init__(spec)
        self.fmt = spec.inner

    def get(self, msg):
        seconds = int(message_time(msg))
        return time.strftime(self.fmt, time.gmtime(seconds) if self.utc else time.localtime(seconds))


class UtcStrftimePv(StrftimePv):
    __slots__ = ()
    utc = True


class TimevalPv(Pv):
    """$TV(s|u|sn|un|Sn|Fn|Sm)."""

    __slots__ = ("read",)
    _last_now = [0.0]

    def __init__(self, spec):
        super().__init__(spec)
        readers = {
            "s": lambda msg: int(message_time(msg)),
            "u": lambda msg: int(round(message_time(msg) % 1 * 1_000_000)) % 1_000_000,
            "sn": self._seconds_now,
            "un": lambda msg: int(round(self._last_now[0] % 1 * 1_000_000)) % 1_000_000,
            "Sn": lambda msg: _seconds_dot_micro(time.time()),
            "Fn": lambda msg: _formatted_now(),
            "Sm": lambda msg: str(time.monotonic_ns()),
        }
        read = readers.get(spec.inner.strip())
        if read is None:
            raise PvError(f"unknown $TV attribute {spec.inner!r}", 0)
        self.read = read

    def _seconds_now(self, msg):
        now = self._last_now[0] = time.time()
        return int(now)

    def get(self, msg):
        return self.read(msg)


def _seconds_dot_micro(now: float) -> str:
    sec = int(now)
    return f"{sec}.{int((now - sec) * 1_000_000):06d}"


def _formatted_now() -> str:
    now = time.time()
    sec = int(now)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec)) + f".{int((now - sec) * 1_000_000):06d}"


def start_time(msg):
    """$Tb: when the server started."""
    from ..runtime import rt
    return int(rt.started)


PVS = [
    PvDef("time", TimePv, inner="required"),
    PvDef("utime", UtcTimePv, inner="required"),
    PvDef("timef", StrftimePv, inner="required"),
    PvDef("utimef", UtcStrftimePv, inner="required"),
    PvDef("TV", TimevalPv, inner="required"),
    PvDef("Ts", fn_pv("MessageTimestampPv", lambda msg: int(message_time(msg)))),
    PvDef("Tf", fn_pv("MessageTimeTextPv", lambda msg: _ctime(message_time(msg)))),
    PvDef("TS", fn_pv("NowTimestampPv", lambda msg: int(time.time()))),
    PvDef("TF", fn_pv("NowTimeTextPv", lambda msg: _ctime(time.time()))),
    PvDef("Tb", fn_pv("StartTimePv", start_time)),
]
