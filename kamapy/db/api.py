"""The DB API: one interface over SQLite, PostgreSQL and MySQL/MariaDB, in the shape of Kamailio's
db_func_t (src/lib/srdb1/db.h) -- query / insert / update / delete / replace /
insert_update / raw_query on typed column values.

    conn = kamapy.db.connect("sqlite:///var/lib/kamapy/kamapy.db")
    rows = conn.query("location", ["contact", "expires"], where={"username": "alice"})
    conn.insert("location", {"username": "alice", "contact": "sip:a@1.2.3.4"})
    conn.update("location", {"ruid": "x"}, {"cseq": 3})
    conn.delete("location", [("expires", "<", now)])

A where clause is a dict (all equal) or a list of (column, op, value) with op one of
kamapy.db.types.OPS; a None value with "=" / "!=" means IS NULL / IS NOT NULL.
A connection belongs to the process that opened it: modules open theirs in
child_init (or lazily) and never use one across fork -- `check_owner()` refuses to.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterable, Sequence

from .types import OPS
from .url import DbUrl, parse_db_url


class DbError(Exception):
    """Any failure of the database or of a statement, with the driver's message."""


class DbDownError(DbError):
    """The server is unreachable or the connection was lost (not a bad statement):
    a caller may drop the connection and open a new one later."""


Where = dict[str, Any] | Sequence[tuple[str, str, Any]] | None


def quote_ident(name: str) -> str:
    if not name or '"' in name or "\0" in name:
        raise DbError(f"bad SQL identifier {name!r}")
    return f'"{name}"'


class DbConnection:
    """Base class of the drivers: builds the SQL, the driver runs it."""

    driver = ""
    placeholder = "?"

    def __init__(self, url: DbUrl):
        self.url = url
        self.pid = os.getpid()
        self.table = None
        self.affected = 0

    # -------------------------------------------------------------- driver part
    def _execute(self, sql: str, params: Sequence[Any] = (), fetch: bool = False):
        raise NotImplementedError

    def _executemany(self, sql: str, rows: Iterable[Sequence[Any]]):
        raise NotImplementedError

    def _adapt(self, value):
        """A Python value as the driver wants it bound."""
        return value

    def close(self):
        raise NotImplementedError

    @contextmanager
    def transaction(self):
        raise NotImplementedError
        yield

    # the SQL dialect of replace() / insert_update(): (insert-or-ignore, insert-or-update,
    # one column's update); {table} {names} {phs} {conflict} {sets} / {c} are filled in
    upsert_dialect: tuple[str, str, str] | None = None

    def _upsert_sql(self, table: str, cols: list[str], keys: list[str], update: bool) -> str:
        if self.upsert_dialect is None:
            raise NotImplementedError
        ignore, upsert, one_set = self.upsert_dialect
        names = ", ".join(f'"{c}"' for c in cols)
        phs = ", ".join([self.placeholder] * len(cols))
        conflict = ", ".join(f'"{k}"' for k in keys)
        rest = [c for c in cols if c not in keys]
        if not update or not rest:
            return ignore.format(table=table, names=names, phs=phs, conflict=conflict)
        sets = ", ".join(one_set.format(c=c) for c in rest)
        return upsert.format(table=table, names=names, phs=phs, conflict=conflict, sets=sets)

    @staticmethod
    def import_driver(name: str, missing: str):
        """The driver's Python package, or a DbError saying how to install it."""
        import importlib
        try:
            return importlib.import_module(name)
        except ImportError:
            raise DbError(missing) from None

    @contextmanager
    def _begin_commit(self, begin: str, rollback):
        """`begin` ... COMMIT, rollback() on error; a nested call joins the outer one
        (the drivers that run the statements themselves: sqlite, mysql)."""
        self.check_owner()
        if self._in_tx:
            yield self
            return
        self._execute(begin)
        self._in_tx = True
        try:
            yield self
        except BaseException:
            self._in_tx = False
            rollback()
            raise
        self._in_tx = False
        self._execute("COMMIT")

    def table_exists(self, table: str) -> bool:
        raise NotImplementedError

    # -------------------------------------------------------------- shared part
    def check_owner(self):
        if os.getpid() != self.pid:
            raise DbError("a DB connection may not be used across fork; open one per process")

    def use_table(self, table: str):
        """Kamailio's use_table(): the table later calls use when they name none."""
        self.table = table

    def _table(self, table: str | None) -> str:
        t = table or self.table
        if not t:
            raise DbError("no table given")
        return quote_ident(t)

    def _where(self, where: Where) -> tuple[str, list]:
        if not where:
            return "", []
        items = [(k, "=", v) for k, v in where.items()] if isinstance(where, dict) else where
        parts = []
        params = []
        ph = self.placeholder
        for col, op, value in items:
            if op not in OPS:
                raise DbError(f"bad operator {op!r}")
            if value is None and op in ("=", "!=", "<>"):
                parts.append(f"{quote_ident(col)} IS {'NOT ' if op != '=' else ''}NULL")
                continue
            parts.append(f"{quote_ident(col)} {op} {ph}")
            params.append(self._adapt(value))
        return " WHERE " + " AND ".join(parts), params

    def query(self, table: str | None = None, columns: Sequence[str] | None = None,
              where: Where = None, order_by: str | None = None, limit: int | None = None) -> list[tuple]:
        """SELECT columns (all when None) FROM table WHERE ... -> list of row tuples."""
        self.check_owner()
        cols = ", ".join(quote_ident(c) for c in columns) if columns else "*"
        w, params = self._where(where)
        sql = f"SELECT {cols} FROM {self._table(table)}{w}"
        if order_by:
            desc = order_by.startswith("-")
            sql += f" ORDER BY {quote_ident(order_by.lstrip('-'))}{' DESC' if desc else ''}"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self._execute(sql, params, fetch=True)

    def count(self, table: str | None = None, where: Where = None) -> int:
        self.check_owner()
        w, params = self._where(where)
        return int(self._execute(f"SELECT COUNT(*) FROM {self._table(table)}{w}", params, fetch=True)[0][0])

    def insert(self, table: str | None, values: dict[str, Any]) -> int:
        """INSERT one row; returns the rows affected (1)."""
        self.check_owner()
        cols = list(values)
        sql = (f"INSERT INTO {self._table(table)} ({', '.join(quote_ident(c) for c in cols)}) "
               f"VALUES ({', '.join([self.placeholder] * len(cols))})")
        self._execute(sql, [self._adapt(values[c]) for c in cols])
        return self.affected

    def insert_many(self, table: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]):
        """INSERT many rows of the same columns in one round of the driver."""
        self.check_owner()
        sql = (f"INSERT INTO {self._table(table)} ({', '.join(quote_ident(c) for c in columns)}) "
               f"VALUES ({', '.join([self.placeholder] * len(columns))})")
        self._executemany(sql, ([self._adapt(v) for v in row] for row in rows))

    def update(self, table: str | None, where: Where, values: dict[str, Any]) -> int:
        """UPDATE table SET values WHERE ...; returns the rows affected."""
        self.check_owner()
        sets = ", ".join(f"{quote_ident(c)} = {self.placeholder}" for c in values)
        w, params = self._where(where)
        self._execute(f"UPDATE {self._table(table)} SET {sets}{w}",
                      [self._adapt(v) for v in values.values()] + params)
        return self.affected

    def delete(self, table: str | None, where: Where = None) -> int:
        """DELETE FROM table WHERE ... (every row when where is empty)."""
        self.check_owner()
        w, params = self._where(where)
        self._execute(f"DELETE FROM {self._table(table)}{w}", params)
        return self.affected

    def replace(self, table: str | None, values: dict[str, Any], keys: Sequence[str]) -> int:
        """Insert, or overwrite the row with the same unique `keys` (Kamailio's replace)."""
        self.check_owner()
        cols = list(values)
        self._execute(self._upsert_sql(self._table(table), cols, list(keys), True),
                      [self._adapt(values[c]) for c in cols])
        return self.affected

    def insert_update(self, table: str | None, values: dict[str, Any], keys: Sequence[str]) -> int:
        """Kamailio's insert_update: INSERT ... ON DUPLICATE KEY UPDATE."""
        return self.replace(table, values, keys)

    def raw_query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run SQL as written (placeholders in the driver's style: `placeholder`)."""
        self.check_owner()
        return self._execute(sql, [self._adapt(p) for p in params], fetch=True)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows (DDL, bulk DML); returns rows affected."""
        self.check_owner()
        self._execute(sql, [self._adapt(p) for p in params])
        return self.affected

    def affected_rows(self) -> int:
        return self.affected

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(url: str | DbUrl) -> DbConnection:
    """Open a connection for this process from a Kamailio-style db_url."""
    u = url if isinstance(url, DbUrl) else parse_db_url(url)
    if u.driver == "sqlite":
        from .sqlite import SqliteConnection
        return SqliteConnection(u)
    if u.driver == "mysql":
        from .mysql import MysqlConnection
        return MysqlConnection(u)
    if u.driver == "redis":
        from .redis import RedisConnection
        return RedisConnection(u)
    from .postgres import PostgresConnection
    return PostgresConnection(u)
