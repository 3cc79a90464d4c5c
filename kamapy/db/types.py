"""Column types and value conventions of the DB API (Kamailio's db1 types, src/lib/srdb1).

Values cross the API as plain Python objects:

    DB_INT, DB_BIGINT   int
    DB_STR              str
    DB_DATETIME         datetime.datetime (naive, local time -- Kamailio writes DATETIME
                        columns in local time)
    DB_DOUBLE           float
    DB_BLOB             bytes
    any type            None is SQL NULL
"""

from __future__ import annotations

import datetime as _dt

DB_INT = "int"
DB_BIGINT = "bigint"
DB_STR = "str"
DB_DATETIME = "datetime"
DB_DOUBLE = "double"
DB_BLOB = "blob"
TYPES = (DB_INT, DB_BIGINT, DB_STR, DB_DATETIME, DB_DOUBLE, DB_BLOB)

# comparison operators of a where clause (Kamailio's OP_EQ, OP_LT, ...)
OPS = ("=", "!=", "<>", "<", ">", "<=", ">=")

_EPOCH_LOCAL = None


def epoch_local() -> _dt.datetime:
    """The local-time datetime of Unix time 0: what Kamailio stores for 'never expires'."""
    global _EPOCH_LOCAL
    if _EPOCH_LOCAL is None:
        _EPOCH_LOCAL = _dt.datetime.fromtimestamp(0)
    return _EPOCH_LOCAL


def to_db_time(ts: float) -> _dt.datetime:
    """A Unix time as a DATETIME value (0 stays the epoch, Kamailio's 'permanent')."""
    return _dt.datetime.fromtimestamp(int(ts))


def from_db_time(value) -> float:
    """A DATETIME value (datetime, or text from a driver that returns text) as Unix time."""
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        value = parse_datetime(value)
    if value.tzinfo is not None:
        return value.timestamp()
    if value == epoch_local() or value.year < 1971:
        return 0.0
    return value.timestamp()


def parse_datetime(text: str) -> _dt.datetime:
    text = text.strip()
    try:
        return _dt.datetime.fromisoformat(text)
    except ValueError:
        return _dt.datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")


def format_datetime(value: _dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")
