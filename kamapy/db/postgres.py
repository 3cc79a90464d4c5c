"""The PostgreSQL driver (psycopg 3, `pip install "psycopg[binary]"`).

Autocommit, like Kamailio's db_postgres: each statement is its own transaction unless
`transaction()` groups several. Statements with parameters are prepared on the server
once per connection (psycopg's prepare=True: the hot usrloc/auth statements are parsed
and planned once, then only bound). A lost connection (server restarted or down)
raises DbDownError and the connection is `broken`: its owner drops it and opens a
new one (usrloc's dbstore does).
"""

from __future__ import annotations

from contextlib import contextmanager

from .api import DbConnection, DbDownError, DbError

CONNECT_TIMEOUT_S = 5


class PostgresConnection(DbConnection):
    driver = "postgres"
    placeholder = "%s"

    def __init__(self, url):
        super().__init__(url)
        psycopg = self.import_driver(
            "psycopg", 'postgres: the psycopg package is not installed (pip install "psycopg[binary]")')
        self._psycopg = psycopg
        kw = {"dbname": url.database, "autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S}
        if url.host:
            kw["host"] = url.host
        if url.port:
            kw["port"] = url.port
        if url.user:
            kw["user"] = url.user
        if url.password:
            kw["password"] = url.password
        try:
            self.conn = psycopg.connect(**kw)
        except psycopg.Error as e:
            raise DbDownError(f"postgres: cannot connect to {url.text}: {e}") from None
        self._in_tx = False
        self.statements = 0        # statements run (tests count them)

    @property
    def broken(self) -> bool:
        return self.conn.closed or self.conn.broken

    def _execute(self, sql, params=(), fetch=False):
        self.statements += 1
        try:
            cur = self.conn.execute(sql, params, prepare=bool(params))
            self.affected = cur.rowcount if cur.rowcount >= 0 else 0
            return cur.fetchall() if fetch else None
        except self._psycopg.OperationalError as e:
            if self.broken:
                raise DbDownError(f"postgres: connection to {self.url.text} lost: {e}") from None
            raise DbError(f"postgres: {e} [{sql}]") from None
        except self._psycopg.Error as e:
            raise DbError(f"postgres: {e} [{sql}]") from None

    def _executemany(self, sql, rows):
        try:
            with self.conn.cursor() as cur:
                cur.executemany(sql, list(rows))
                self.affected = cur.rowcount
        except self._psycopg.Error as e:
            raise DbError(f"postgres: {e} [{sql}]") from None

    upsert_dialect = (
        "INSERT INTO {table} ({names}) VALUES ({phs}) ON CONFLICT ({conflict}) DO NOTHING",
        "INSERT INTO {table} ({names}) VALUES ({phs}) ON CONFLICT ({conflict}) DO UPDATE SET {sets}",
        '"{c}" = EXCLUDED."{c}"',
    )

    @contextmanager
    def transaction(self):
        self.check_owner()
        if self._in_tx:
            yield self
            return
        self._in_tx = True
        try:
            with self.conn.transaction():
                yield self
        except self._psycopg.Error as e:
            raise DbError(f"postgres: {e}") from None
        finally:
            self._in_tx = False

    def table_exists(self, table):
        rows = self._execute("SELECT to_regclass(%s)", [table], fetch=True)
        return rows[0][0] is not None

    def executescript(self, sql: str):
        self._execute(sql)

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass
