"""$shv(name): shared variables, one value seen by every process.

Stored in a shm hash table (kamapy.mem.htable.SharedHashTable) created in the master when
the first $shv is parsed (config compile time, before the fork). Until that table type
exists, or when shm is not set up (unit tests), a per-process dict stands in — which
is NOT shared between workers; `use_table(table)` lets the server hand one in.

Values are stored as bytes: b"i" + decimal for ints, b"s" + utf-8 for strings.
An unset variable reads 0, as Kamailio creates it with the integer 0.
"""

from __future__ import annotations

import logging

from .base import Pv
from .errors import PvError
from .registry import PvDef

log = logging.getLogger("kamapy.core")


class _LocalTable:
    """Per-process stand-in with the SharedHashTable calls shv uses."""

    shared = False

    def __init__(self):
        self._data: dict[bytes, bytes] = {}

    def get(self, key: bytes):
        return self._data.get(key)

    def put(self, key: bytes, value: bytes):
        self._data[key] = value
        return 1

    def delete(self, key: bytes):
        return self._data.pop(key, None) is not None


_table = None


def use_table(table) -> None:
    """Make $shv use this table (get/put/delete on bytes keys and values)."""
    global _table
    _table = table


def _get_table():
    global _table
    if _table is None:
        try:
            from ..mem.htable import SharedHashTable  # lands with the native layer
            _table = SharedHashTable(name="$shv")
        except Exception:  # no shm yet: keep the process working, not shared
            log.debug("$shv: no shared hash table available, using a per-process one")
            _table = _LocalTable()
    return _table


def encode(value) -> bytes:
    if value.__class__ is int or isinstance(value, int):
        return b"i" + str(int(value)).encode()
    return b"s" + str(value).encode("utf-8", "surrogatepass")


def decode(blob):
    if blob is None:
        return 0
    blob = bytes(blob)
    if blob[:1] == b"i":
        return int(blob[1:])
    return blob[1:].decode("utf-8", "surrogatepass")


class SharedVarPv(Pv):
    __slots__ = ("key",)
    writable = True

    def __init__(self, spec):
        super().__init__(spec)
        name = spec.inner.strip()
        if not name or spec.inner_pv is not None:
            raise PvError(f"invalid shared variable name {spec.inner!r}", 0)
        self.key = b"shv:" + name.encode("utf-8", "surrogatepass")
        _get_table()  # create it now, in the master, before the fork

    def get(self, msg):
        return decode(_get_table().get(self.key))

    def set(self, msg, value):
        _get_table().put(self.key, encode("" if value is None else value))


def set_initial(name: str, value) -> None:
    """modparam("pv", "shvset", "name=i:1") — the value as int or str."""
    _get_table().put(b"shv:" + name.encode("utf-8", "surrogatepass"), encode(value))


PVS = [PvDef("shv", SharedVarPv, inner="required")]
