"""The SQLite driver (stdlib sqlite3) -- kamapy's embedded default database.

Several processes share one file: WAL journal (readers never block the writer) and a
busy timeout instead of "database is locked" errors. Statements autocommit, so a row
is on disk (in the WAL) as soon as the call returns -- a SIGKILL loses nothing.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3

from .api import DbConnection, DbError
from .types import format_datetime, parse_datetime

BUSY_TIMEOUT_MS = 10000


def _convert_datetime(raw: bytes):
    try:
        return parse_datetime(raw.decode())
    except ValueError:
        return raw.decode()


for _name in ("TIMESTAMP", "DATETIME", "timestamp", "datetime"):
    sqlite3.register_converter(_name, _convert_datetime)


class SqliteConnection(DbConnection):
    driver = "sqlite"
    placeholder = "?"

    def __init__(self, url):
        super().__init__(url)
        path = url.database
        folder = os.path.dirname(path)
        if folder and not os.path.isdir(folder):
            raise DbError(f"sqlite: folder of {path} does not exist")
        try:
            self.conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                        detect_types=sqlite3.PARSE_DECLTYPES, check_same_thread=False)
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as e:
            raise DbError(f"sqlite: cannot open {path}: {e}") from None
        self._in_tx = False

    def _adapt(self, value):
        if isinstance(value, _dt.datetime):
            return format_datetime(value)
        return value

    def _execute(self, sql, params=(), fetch=False):
        try:
            cur = self.conn.execute(sql, params)
            rows = cur.fetchall() if fetch else None
            self.affected = cur.rowcount if cur.rowcount >= 0 else 0
            return rows
        except sqlite3.Error as e:
            raise DbError(f"sqlite: {e} [{sql}]") from None

    def _executemany(self, sql, rows):
        try:
            cur = self.conn.executemany(sql, rows)
            self.affected = cur.rowcount
        except sqlite3.Error as e:
            raise DbError(f"sqlite: {e} [{sql}]") from None

    upsert_dialect = (
        "INSERT OR IGNORE INTO {table} ({names}) VALUES ({phs})",
        "INSERT INTO {table} ({names}) VALUES ({phs}) ON CONFLICT ({conflict}) DO UPDATE SET {sets}",
        '"{c}" = excluded."{c}"',
    )

    def transaction(self):
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); nested calls join the outer one."""
        return self._begin_commit("BEGIN IMMEDIATE", lambda: self.conn.execute("ROLLBACK"))

    def table_exists(self, table):
        rows = self._execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", [table], fetch=True)
        return bool(rows)

    def executescript(self, sql: str):
        try:
            self.conn.executescript(sql)
        except sqlite3.Error as e:
            raise DbError(f"sqlite: {e}") from None

    def close(self):
        try:
            self.conn.close()
        except sqlite3.Error:
            pass
