"""A throw-away MariaDB server for tests: `mariadb-install-db` into a temp datadir,
`mariadbd` on a free 127.0.0.1 port and a private unix socket (as the `mysql` user when
the tests run as root), stopped by its PID at the end of the test session.

Needs the Debian package `mariadb-server` and PyMySQL. Root connects over the socket
without a password (unix_socket auth) and over TCP as root@127.0.0.1 with none either
(`--auth-root-authentication-method=normal`); `create_db()` makes a database and a
`kamailio` user with a password, so db_urls look as they do in production.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from tests.support.ports import free_tcp_port

USER = "kamailio"
PASSWORD = "kamailiorw"



class MysqlServer:
    def __init__(self):
        self.mariadbd = shutil.which("mariadbd") or (
            "/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else None)
        self.install_db = shutil.which("mariadb-install-db")
        self.proc = None
        self.port = 0
        self.dir = None
        self.socket = ""

    @property
    def available(self) -> bool:
        try:
            import pymysql  # noqa: F401
        except ImportError:
            return False
        return bool(self.mariadbd and self.install_db)

    def _user_kwargs(self):
        if os.geteuid() != 0:
            return {}, None
        pw = pwd.getpwnam("mysql")
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}, pw

    def start(self, timeout: float = 60.0):
        self.dir = tempfile.mkdtemp(prefix="kamapy-my-")
        data = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        kw, pw = self._user_kwargs()
        if pw is not None:
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        user_opt = [f"--user={pw.pw_name}"] if pw is not None else []
        subprocess.run([self.install_db, "--no-defaults", f"--datadir={data}", *user_opt,
                        "--auth-root-authentication-method=normal", "--skip-test-db",
                        "--skip-name-resolve"],
                       check=True, capture_output=True, timeout=timeout, **kw)
        self.port = free_tcp_port()
        self._data, self._kw, self._user_opt = data, kw, user_opt
        self._spawn(timeout)
        c = self.admin()
        with c.cursor() as cur:
            cur.execute(f"CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
            cur.execute(f"CREATE USER IF NOT EXISTS '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}'")
        c.close()
        atexit.register(self.stop)
        return self

    def _spawn(self, timeout: float = 60.0):
        data, kw, user_opt = self._data, self._kw, self._user_opt
        self.log = open(os.path.join(self.dir, "mariadbd.log"), "ab")
        self.proc = subprocess.Popen(
            [self.mariadbd, "--no-defaults", f"--datadir={data}", f"--socket={self.socket}",
             f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
             f"--pid-file={os.path.join(self.dir, 'mariadbd.pid')}", "--skip-log-bin",
             "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
             "--innodb-flush-log-at-trx-commit=0", "--skip-innodb-doublewrite",
             "--max-connections=300", "--performance-schema=off", *user_opt],
            stdout=self.log, stderr=subprocess.STDOUT, **kw)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.admin().close()
                break
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("MariaDB did not start") from None
                time.sleep(0.1)

    def halt(self):
        """Stop the server but keep its datadir (resume() starts it again, same port)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def resume(self):
        self._spawn()

    def admin(self, database: str | None = None):
        """A PyMySQL connection as root over the private socket."""
        import pymysql
        return pymysql.connect(unix_socket=self.socket, user="root", database=database,
                               autocommit=True, connect_timeout=2)

    def create_db(self, name: str) -> str:
        """A fresh database the kamailio user owns; returns its Kamailio-style db_url."""
        c = self.admin()
        with c.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"CREATE DATABASE `{name}`")
            for host in ("127.0.0.1", "localhost"):
                cur.execute(f"GRANT ALL ON `{name}`.* TO '{USER}'@'{host}'")
        c.close()
        return self.url(name)

    def load_sql(self, name: str, sql: str):
        """Run a Kamailio schema file (utils/kamctl/mysql/*.sql) in database `name`."""
        c = self.admin(name)
        with c.cursor() as cur:
            for stmt in _statements(sql):
                cur.execute(stmt)
        c.close()

    def url(self, name: str) -> str:
        return f"mysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{name}"

    def stop(self):
        self.halt()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _statements(sql: str):
    """Split a schema file on ';' at line ends (Kamailio's files have no ';' inside values)."""
    buf = []
    for line in sql.splitlines():
        if line.strip().startswith("--") or not line.strip():
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            yield "\n".join(buf).rstrip().rstrip(";")
            buf = []
    if buf and "".join(buf).strip():
        yield "\n".join(buf)


_server: MysqlServer | None = None


def mysql_server() -> MysqlServer | None:
    """The session's MariaDB server (started on first use); None when not installed."""
    global _server
    if _server is None:
        s = MysqlServer()
        if not s.available:
            return None
        _server = s.start()
    return _server
