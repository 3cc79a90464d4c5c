"""xlog: formatted log lines from the config (Kamailio: modules/xlog).

xlog([[facility,] level,] format) -- level L_ALERT..L_DBG or a $pv, L_ERR when left
out; xdbg/xinfo/xnotice/xwarn/xerr/xbug/xcrit/xalert(format); xlogl/xdbgl add the
config line; xlogm(level, format) skips the methods in methods_filter.
The format is compiled once (kamapy.pv.compile_format) and only printed when the level
passes `debug=` -- the same filter as every other log line.
"""

from __future__ import annotations

import logging

from kamapy.log import python_level
from kamapy.module import ANY_ROUTE, Arg, Function, ModuleExports, Param
from kamapy.pv import PvError, compile_format

from .levels import Level, parse_facility, parse_level

log = logging.getLogger("kamapy_modules.xlog")


class Config:
    prefix = "<script>: "
    facility = None           # syslog facility for xlog lines (None: the core's)
    methods_filter = -1
    auto_newline = 0


cfg = Config()


def emit(msg, level: int, text: str, facility=None, line_info: str = ""):
    if not log.isEnabledFor(level):
        return
    if text.endswith("\n"):
        text = text[:-1]  # Kamailio formats end in \n; the log handler adds its own
    extra = {"kp_bare": True}
    fac = facility if facility is not None else cfg.facility
    if fac is not None:
        extra["syslog_facility"] = fac
    log.log(level, "%s%s%s", cfg.prefix, line_info, text, extra=extra)


def _text(fmt, msg) -> str:
    return fmt if fmt.__class__ is str else fmt(msg)


class XlogArg:
    """One xlog() argument: its meaning (facility, level or format) depends on how many
    the call has, so both readings are prepared at load time."""

    __slots__ = ("text", "format", "level")

    def __init__(self, text):
        self.text = str(text)
        try:
            self.format = compile_format(self.text)
        except PvError as e:
            raise ValueError(str(e)) from None
        try:
            self.level = parse_level(self.text)
        except ValueError:
            self.level = None


def xlog(msg, a, b=None, c=None) -> int:
    """xlog(format) / xlog(level, format) / xlog(facility, level, format)."""
    facility = None
    if b is None:
        level, fmt = _ERR, a.format
    elif c is None:
        level, fmt = a.level, b.format
    else:
        facility, level, fmt = parse_facility(a.text), b.level, c.format
    if level is None:
        log.error("xlog: bad log level %r", (a if c is None else b).text)
        return -1
    lvl = level.python_level(msg)
    if log.isEnabledFor(lvl):
        emit(msg, lvl, _text(fmt, msg), facility)
    return 1


def _fixed(kamailio_level: int):
    lvl = python_level(kamailio_level)

    def handler(msg, fmt) -> int:
        if log.isEnabledFor(lvl):
            emit(msg, lvl, _text(fmt, msg))
        return 1
    return handler


def xlogm(msg, level: Level, fmt) -> int:
    mask = cfg.methods_filter
    if mask == -1 or (msg.method_id & mask):
        return 1
    lvl = level.python_level(msg)
    if log.isEnabledFor(lvl):
        emit(msg, lvl, _text(fmt, msg))
    return 1


_ERR = Level(static=python_level(-1))


def _arg_level(value):
    return value if isinstance(value, Level) else parse_level(value)


def mod_init():
    values = exports.values
    cfg.prefix = values["prefix"]
    cfg.facility = parse_facility(values["log_facility"]) if values["log_facility"] else None
    cfg.methods_filter = values["methods_filter"]
    cfg.auto_newline = values["auto_newline"]
    return 0


FMT = Arg("spve")
LEVEL = Arg("raw", fixup=_arg_level)
FACILITY = Arg("raw", fixup=parse_facility)
OPT = {"optional": True}
XARG = Arg("raw", fixup=XlogArg)

exports = ModuleExports(
    name="xlog",
    params=[
        Param("buf_size", int, 4096),
        Param("force_color", int, 0),
        Param("long_format", int, 0),
        Param("prefix", str, "<script>: "),
        Param("prefix_mode", int, 0),
        Param("log_facility", str, "", validate=lambda v: v and parse_facility(v)),
        Param("log_colors", str, "", multi=True),
        Param("methods_filter", int, -1),
        Param("auto_newline", int, 0),
    ],
    functions=[
        Function("xlog", xlog, (XARG, Arg("raw", fixup=XlogArg, **OPT), Arg("raw", fixup=XlogArg, **OPT)),
                 ANY_ROUTE),
        Function("xlogl", xlog, (XARG, Arg("raw", fixup=XlogArg, **OPT), Arg("raw", fixup=XlogArg, **OPT)),
                 ANY_ROUTE),
        Function("xdbg", _fixed(3), (FMT,), ANY_ROUTE),
        Function("xdbgl", _fixed(3), (FMT,), ANY_ROUTE),
        Function("xinfo", _fixed(2), (FMT,), ANY_ROUTE),
        Function("xnotice", _fixed(1), (FMT,), ANY_ROUTE),
        Function("xwarn", _fixed(0), (FMT,), ANY_ROUTE),
        Function("xerr", _fixed(-1), (FMT,), ANY_ROUTE),
        Function("xbug", _fixed(-4), (FMT,), ANY_ROUTE),
        Function("xcrit", _fixed(-2), (FMT,), ANY_ROUTE),
        Function("xalert", _fixed(-5), (FMT,), ANY_ROUTE),
        Function("xlogm", xlogm, (LEVEL, FMT), ANY_ROUTE),
    ],
    mod_init=mod_init,
    doc=__doc__,
)
