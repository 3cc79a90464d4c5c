"""A throw-away Redis server for tests: Debian's `redis-server` on a free 127.0.0.1 port
with a private directory and no persistence unless asked, stopped by its PID at exit.

    from tests.support.redisserver import redis_server
    srv = redis_server()          # one per test session, or None when redis is missing
    srv.url                       # "redis://127.0.0.1:PORT/0"
    srv.client()                  # a redis-py client on db 0
    srv.halt(); srv.resume()      # stop and start again on the same port (outage tests)
    srv.flush()                   # FLUSHALL between tests

Needs the Debian package `redis-server` and the `redis` Python client.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time

from .ports import free_tcp_port


class RedisServer:
    def __init__(self):
        self.binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
        self.proc = None
        self.port = 0
        self.dir = None

    @property
    def available(self) -> bool:
        try:
            import redis  # noqa: F401
        except ImportError:
            return False
        return bool(self.binary)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0, appendonly: bool = False):
        self.dir = tempfile.mkdtemp(prefix="kamapy-redis-")
        self.port = free_tcp_port()
        self._appendonly = appendonly
        self._spawn(timeout)
        atexit.register(self.stop)
        return self

    def _spawn(self, timeout: float = 20.0):
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--save", "", "--daemonize", "no",
                "--protected-mode", "no", "--loglevel", "warning",
                "--appendonly", "yes" if self._appendonly else "no"]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client().ping()
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def client(self, db: int = 0):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=2)

    def flush(self):
        self.client().flushall()

    def halt(self):
        """Stop the server (resume() starts it again on the same port)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def resume(self):
        self._spawn()

    def stop(self):
        self.halt()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


_SESSION: RedisServer | None = None


def redis_server() -> RedisServer | None:
    """The session's shared server, started on first use; None when Redis is missing."""
    global _SESSION
    if _SESSION is None:
        srv = RedisServer()
        if not srv.available:
            return None
        _SESSION = srv.start()
    return _SESSION
