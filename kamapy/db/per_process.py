"""A module's DB connection, one per process: opened on first use in each process (a
connection made before the fork must not be shared by the workers), dropped after an
error so the next use opens a fresh one. Kamailio's modules do the same in child_init.

    _db = PerProcessConnection(lambda: exports.param("db_url"))
    rows = _db.get().query(table, cols, where)
    _db.drop()                          # after a DbError
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .api import DbConnection, connect


class PerProcessConnection:
    def __init__(self, url: Callable[[], str]):
        self._url = url
        self._conn: DbConnection | None = None

    def get(self) -> DbConnection:
        c = self._conn
        if c is None or c.pid != os.getpid():
            c = self._conn = connect(self._url())
        return c

    def drop(self):
        c, self._conn = self._conn, None
        try:
            if c is not None and c.pid == os.getpid():
                c.close()
        except Exception:  # closing a broken connection may fail: it is gone either way
            pass
