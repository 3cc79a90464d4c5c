"""Logging the way Kamailio does it: numeric levels, `debug=`, stderr or syslog, a prefix.

Kamailio's levels (src/core/dprint.h) map onto Python logging levels so that module
code can use plain `logging.getLogger("kamapy.<module>")`:

    L_ALERT -5, L_BUG -4, L_CRIT -2, L_ERR -1, L_WARN 0, L_NOTICE 1, L_INFO 2, L_DBG 3

`debug=N` shows every message whose Kamailio level is <= N. Lines on stderr look like
Kamailio's: ` 1(4242) ERROR: <tm> message` (rank, pid, level, module).
"""

from __future__ import annotations

import logging
import os
import sys
import syslog

NOTICE = 25
BUG = 55
ALERT = 60
logging.addLevelName(NOTICE, "NOTICE")
logging.addLevelName(BUG, "BUG")
logging.addLevelName(ALERT, "ALERT")

# Kamailio level -> Python level
KAMAILIO_LEVELS = {
    -5: ALERT, -4: BUG, -3: logging.CRITICAL, -2: logging.CRITICAL, -1: logging.ERROR,
    0: logging.WARNING, 1: NOTICE, 2: logging.INFO, 3: logging.DEBUG,
}
# names a config uses in xlog("L_ERR", ...) / log(level, ...)
LEVEL_NAMES = {
    "L_ALERT": -5, "L_BUG": -4, "L_CRIT2": -3, "L_CRIT": -2, "L_ERR": -1, "L_WARN": 0,
    "L_NOTICE": 1, "L_INFO": 2, "L_DBG": 3,
}
_LABELS = {
    ALERT: "ALERT", BUG: "BUG", logging.CRITICAL: "CRITICAL", logging.ERROR: "ERROR",
    logging.WARNING: "WARNING", NOTICE: "NOTICE", logging.INFO: "INFO", logging.DEBUG: "DEBUG",
}

SYSLOG_FACILITIES = {
    "LOG_DAEMON": syslog.LOG_DAEMON, "LOG_USER": syslog.LOG_USER, "LOG_LOCAL0": syslog.LOG_LOCAL0,
    "LOG_LOCAL1": syslog.LOG_LOCAL1, "LOG_LOCAL2": syslog.LOG_LOCAL2, "LOG_LOCAL3": syslog.LOG_LOCAL3,
    "LOG_LOCAL4": syslog.LOG_LOCAL4, "LOG_LOCAL5": syslog.LOG_LOCAL5, "LOG_LOCAL6": syslog.LOG_LOCAL6,
    "LOG_LOCAL7": syslog.LOG_LOCAL7,
}
_SYSLOG_PRIORITY = {
    ALERT: syslog.LOG_ALERT, BUG: syslog.LOG_CRIT, logging.CRITICAL: syslog.LOG_CRIT,
    logging.ERROR: syslog.LOG_ERR, logging.WARNING: syslog.LOG_WARNING, NOTICE: syslog.LOG_NOTICE,
    logging.INFO: syslog.LOG_INFO, logging.DEBUG: syslog.LOG_DEBUG,
}

root = logging.getLogger("kamapy")
root.propagate = False

# the process rank shown in each line; the server sets it after fork
_state = {"rank": 0, "prefix": ""}


def python_level(kamailio_level: int) -> int:
    if kamailio_level >= 3:
        return logging.DEBUG
    if kamailio_level <= -5:
        return ALERT
    return KAMAILIO_LEVELS[kamailio_level]


def module_of(logger_name: str) -> str:
    """`kamapy.tm` -> tm, `kamapy_modules.tm.t_reply` -> tm, core loggers -> core."""
    parts = logger_name.split(".")
    if parts[0] == "kamapy_modules" and len(parts) > 1:
        return parts[1]
    if parts[0] == "kamapy" and len(parts) > 1 and parts[1] in _module_names:
        return parts[1]
    return "core"


_module_names: set[str] = set()


def register_module_name(name: str):
    """Loggers named kamapy.<name> print as <name> rather than <core>."""
    _module_names.add(name)


class KamailioFormatter(logging.Formatter):
    def format(self, record):
        label = _LABELS.get(record.levelno, record.levelname)
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        # xlog lines carry their own "<script>: " tag, as in Kamailio
        where = "" if getattr(record, "kp_bare", False) else f"<{module_of(record.name)}> "
        return f"{_state['prefix']}{_state['rank']:2d}({os.getpid()}) {label}: {where}{text}"


class SyslogHandler(logging.Handler):
    """stdlib syslog(3): works with or without /dev/log, never raises."""

    def __init__(self, facility: int, ident: str = "kamapy"):
        super().__init__()
        syslog.openlog(ident, syslog.LOG_PID, facility)

    def emit(self, record):
        try:
            priority = _SYSLOG_PRIORITY.get(record.levelno, syslog.LOG_INFO)
            # xlog's log_facility (and xlog's facility argument) override the core's
            priority |= getattr(record, "syslog_facility", 0)
            syslog.syslog(priority, self.format(record))
        except Exception:  # logging must never take a worker down
            pass


def setup(debug: int = 2, to_stderr: bool = True, facility: str = "LOG_DAEMON", prefix: str = ""):
    """(Re)configure kamapy's logging from the core parameters."""
    for h in list(root.handlers):
        root.removeHandler(h)
    if to_stderr:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    else:
        handler = SyslogHandler(SYSLOG_FACILITIES.get(facility.upper(), syslog.LOG_DAEMON))
    handler.setFormatter(KamailioFormatter())
    root.addHandler(handler)
    level = python_level(debug)
    root.setLevel(level)
    # module loggers live under kamapy_modules.*: route them through the same handler
    modlog = logging.getLogger("kamapy_modules")
    modlog.propagate = False
    for h in list(modlog.handlers):
        modlog.removeHandler(h)
    modlog.addHandler(handler)
    modlog.setLevel(level)
    _state["prefix"] = prefix


def set_prefix(prefix: str):
    """The text before every line while a message is processed (log_prefix)."""
    _state["prefix"] = prefix


def set_rank(rank: int):
    _state["rank"] = rank


def set_debug(debug: int):
    level = python_level(debug)
    root.setLevel(level)
    logging.getLogger("kamapy_modules").setLevel(level)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
