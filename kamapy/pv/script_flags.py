"""Script flags (setsflag/$sf): per process, never reset between messages, as in
Kamailio's flags.c (a static in each worker)."""

from __future__ import annotations

_flags = 0


def get() -> int:
    return _flags


def set_all(value: int) -> None:
    global _flags
    _flags = value & 0xFFFFFFFF


def set_flag(flag: int) -> None:
    global _flags
    _flags |= 1 << flag


def reset_flag(flag: int) -> None:
    global _flags
    _flags &= ~(1 << flag)


def is_set(flag: int) -> bool:
    return bool(_flags & (1 << flag))
