"""The MySQL/MariaDB driver (PyMySQL: pure Python, so no libmysqlclient to build).

    mysql://user:pass@host[:port]/db          TCP (host "localhost" without a port: the
                                              server's unix socket, as libmysqlclient does)
    mysql://user:pass@[group]host:port/db     options of the my.cnf [group] (and [client])

Autocommit, like Kamailio's db_mysql: each statement is its own transaction unless
`transaction()` groups several. The session runs with ANSI_QUOTES, so the DB API's
"quoted" identifiers mean what they mean on the other drivers.

A lost connection (server restarted, idle timeout, network) is reconnected on the next
statement when `auto_reconnect` is on: the statement waits at most `RECONNECT_WAIT`
seconds for the server, logs one error line, and runs again once (not inside a
transaction, where the work done so far is gone with the connection). A connection idle
longer than `ping_interval` is pinged before it is used. The db_mysql module's
parameters set `OPTIONS`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time

from .api import DbConnection, DbError

log = logging.getLogger("kamapy.db")

# db_mysql's modparams (modules/db_mysql sets them before any connection is opened)
OPTIONS = {
    "ping_interval": 300,      # s: a connection idle this long is pinged before use
    "timeout_interval": 2,     # s: connect timeout; reads and writes get three times it
    "auto_reconnect": 1,
    "insert_delayed": 0,
    "server_timezone": 0,
}

# errors that mean the connection is gone (CR_* client errors, server shutdown)
_CONN_ERRORS = {2002, 2003, 2006, 2013, 2055, 1053, 1927, 4031}
DEFAULT_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock")


def reconnect_wait() -> float:
    """How long a statement waits for a dead server before it fails."""
    return max(1.0, 3.0 * float(OPTIONS["timeout_interval"]))


def _datetime_literal(value: _dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


class MysqlConnection(DbConnection):
    driver = "mysql"
    placeholder = "%s"

    def __init__(self, url):
        super().__init__(url)
        pymysql = self.import_driver("pymysql", "mysql: the PyMySQL package is not installed (pip install PyMySQL)")
        self._pymysql = pymysql
        self._in_tx = False
        self._no_delayed = False   # the server refused INSERT DELAYED once: plain INSERTs
        self.conn = None
        self._used = 0.0
        try:
            self._connect()
        except pymysql.err.Error as e:
            raise DbError(f"mysql: cannot connect to {url.text}: {_msg(e)}") from None

    # ------------------------------------------------------------- connection
    def _kwargs(self) -> dict:
        u = self.url
        t = max(1, int(OPTIONS["timeout_interval"]))
        from pymysql.constants import CLIENT
        kw = {
            "database": u.database, "autocommit": True, "charset": "utf8mb4",
            "connect_timeout": t, "read_timeout": 3 * t, "write_timeout": 3 * t,
            # UPDATE reports the rows it matched, as the SQLite and PostgreSQL drivers do
            "client_flag": CLIENT.FOUND_ROWS,
            "init_command": "SET SESSION sql_mode = TRIM(BOTH ',' FROM "
                            "CONCAT(@@SESSION.sql_mode, ',ANSI_QUOTES'))",
        }
        if u.group:
            for cnf in ("/etc/mysql/my.cnf", "/etc/my.cnf", os.path.expanduser("~/.my.cnf")):
                if os.path.exists(cnf):
                    kw["read_default_file"] = cnf
                    kw["read_default_group"] = u.group
                    break
        if u.user:
            kw["user"] = u.user
        if u.password:
            kw["password"] = u.password
        host = u.host
        if host.startswith("/"):
            kw["unix_socket"] = host
        elif (host in ("", "localhost")) and not u.port:
            sock = os.environ.get("MYSQL_UNIX_PORT") or next(
                (s for s in DEFAULT_SOCKETS if os.path.exists(s)), None)
            if sock:
                kw["unix_socket"] = sock
            else:
                kw["host"] = "localhost"
        else:
            kw["host"] = host or "localhost"
            if u.port:
                kw["port"] = u.port
        return kw

    def _connect(self):
        self.conn = self._pymysql.connect(**self._kwargs())
        self._used = time.monotonic()

    def _reconnect(self, why):
        """Open the connection again, waiting at most reconnect_wait() for the server."""
        log.error("mysql: connection to %s lost (%s), reconnecting", self.url.text, why)
        try:
            self.conn.close()
        except Exception:
            pass
        deadline = time.monotonic() + reconnect_wait()
        last = why
        while True:
            try:
                self._connect()
                log.info("mysql: reconnected to %s", self.url.text)
                return
            except self._pymysql.err.Error as e:
                last = _msg(e)
            if time.monotonic() >= deadline:
                raise DbError(f"mysql: {self.url.text} is not reachable ({last}); "
                              f"gave up after {reconnect_wait():g} s") from None
            time.sleep(0.2)

    def _check_alive(self):
        """Ping a connection idle longer than ping_interval (Kamailio's db_mysql does)."""
        ping = OPTIONS["ping_interval"]
        if ping and time.monotonic() - self._used > ping and not self._in_tx:
            try:
                self.conn.ping(reconnect=False)
            except self._pymysql.err.Error as e:
                if not OPTIONS["auto_reconnect"]:
                    raise DbError(f"mysql: connection to {self.url.text} lost: {_msg(e)}") from None
                self._reconnect(_msg(e))

    # ----------------------------------------------------------------- driver
    def _adapt(self, value):
        if isinstance(value, _dt.datetime):
            return _datetime_literal(value)
        return value

    def _run(self, fn, sql):
        self._check_alive()
        for attempt in (0, 1):
            try:
                out = fn()
                self._used = time.monotonic()
                return out
            except (self._pymysql.err.OperationalError, self._pymysql.err.InterfaceError) as e:
                # InterfaceError: PyMySQL found the socket closed (a KILLed connection)
                code = e.args[0] if e.args else 0
                gone = code in _CONN_ERRORS or isinstance(e, self._pymysql.err.InterfaceError)
                if (attempt == 0 and gone and not self._in_tx
                        and OPTIONS["auto_reconnect"]):
                    self._reconnect(_msg(e))
                    continue
                raise DbError(f"mysql: {_msg(e)} [{sql}]") from None
            except self._pymysql.err.Error as e:
                raise DbError(f"mysql: {_msg(e)} [{sql}]") from None
            except (OSError, AttributeError) as e:  # socket closed under PyMySQL
                if attempt == 0 and not self._in_tx and OPTIONS["auto_reconnect"]:
                    self._reconnect(str(e))
                    continue
                raise DbError(f"mysql: {e} [{sql}]") from None

    def _execute(self, sql, params=(), fetch=False):
        if OPTIONS["insert_delayed"] and not self._no_delayed and sql.startswith("INSERT INTO "):
            try:
                return self._execute_now("INSERT DELAYED INTO " + sql[12:], params, fetch)
            except DbError as e:
                if "(1616)" not in str(e):  # ER_DELAYED_NOT_SUPPORTED: InnoDB tables
                    raise
                self._no_delayed = True
        return self._execute_now(sql, params, fetch)

    def _execute_now(self, sql, params=(), fetch=False):
        def go():
            with self.conn.cursor() as cur:
                cur.execute(sql, tuple(params) if params else None)
                self.affected = cur.rowcount if cur.rowcount >= 0 else 0
                return list(cur.fetchall()) if fetch else None
        return self._run(go, sql)

    def _executemany(self, sql, rows):
        rows = [tuple(r) for r in rows]

        def go():
            with self.conn.cursor() as cur:
                cur.executemany(sql, rows)
                self.affected = cur.rowcount
        return self._run(go, sql)

    upsert_dialect = (
        "INSERT IGNORE INTO {table} ({names}) VALUES ({phs})",
        "INSERT INTO {table} ({names}) VALUES ({phs}) ON DUPLICATE KEY UPDATE {sets}",
        '"{c}" = VALUES("{c}")',
    )

    def replace(self, table, values, keys):
        n = super().replace(table, values, keys)
        # MySQL counts an updated duplicate twice; the DB API says "one row written"
        self.affected = min(n, 1)
        return self.affected

    def transaction(self):
        return self._begin_commit("START TRANSACTION", self._rollback_quietly)

    def _rollback_quietly(self):
        try:
            self.conn.rollback()
        except Exception:
            pass

    def table_exists(self, table):
        rows = self._execute("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() "
                             "AND table_name = %s", [table], fetch=True)
        return bool(rows)

    def executescript(self, sql: str):
        for stmt in [s.strip() for s in sql.split(";\n")]:
            if stmt:
                self._execute(stmt.rstrip(";"))

    def close(self):
        try:
            if self.conn is not None:
                self.conn.close()
        except Exception:
            pass


def _msg(e) -> str:
    if len(getattr(e, "args", ())) >= 2 and e.args[0] == 0 and not e.args[1]:
        return "connection closed"
    if len(getattr(e, "args", ())) >= 2:
        return f"({e.args[0]}) {e.args[1]}"
    return str(e)
