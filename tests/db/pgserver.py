"""A throw-away PostgreSQL server for tests: initdb in a temp dir, run on a free
127.0.0.1 port (as the `postgres` user when the tests run as root, since PostgreSQL
refuses to run as root), stopped by its PID at the end of the test session.

Needs the Debian package `postgresql` (initdb, postgres under /usr/lib/postgresql/*/bin).
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from tests.support.ports import free_tcp_port


def _bin_dir() -> str | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "postgres")):
            return d
    path = shutil.which("postgres")
    return os.path.dirname(path) if path else None



class PgServer:
    def __init__(self):
        self.bin = _bin_dir()
        self.proc = None
        self.port = 0
        self.dir = None

    @property
    def available(self) -> bool:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return False
        return self.bin is not None

    def _user_kwargs(self):
        if os.geteuid() != 0:
            return {}
        pw = pwd.getpwnam("postgres")
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def start(self, timeout: float = 30.0):
        self.dir = tempfile.mkdtemp(prefix="kamapy-pg-")
        data = os.path.join(self.dir, "data")
        kw = self._user_kwargs()
        if kw:
            os.chown(self.dir, kw["user"], kw["group"])
        subprocess.run([os.path.join(self.bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=timeout, **kw)
        self.port = free_tcp_port()
        self.log = open(os.path.join(self.dir, "pg.log"), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(self.bin, "postgres"), "-D", data, "-p", str(self.port), "-h", "127.0.0.1",
             "-k", self.dir, "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=self.log, stderr=subprocess.STDOUT, **kw)
        import psycopg
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                                     autocommit=True, connect_timeout=2) as c:
                    c.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("PostgreSQL did not start") from None
                time.sleep(0.1)
        atexit.register(self.stop)
        return self

    def create_db(self, name: str) -> str:
        """A fresh database; returns its Kamailio-style db_url."""
        import psycopg
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgres://postgres:x@127.0.0.1:{self.port}/{name}"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


_server: PgServer | None = None


def pg_server() -> PgServer | None:
    """The session's PostgreSQL server (started on first use); None when not installed."""
    global _server
    if _server is None:
        s = PgServer()
        if not s.available:
            return None
        _server = s.start()
    return _server
