"""The FIFO transport (Kamailio: jsonrpcs_fifo.c).

The master creates the FIFO (mod_init) and keeps a write end open so that readers
never see end-of-file; the "JSONRPCS FIFO" process reads requests from it, runs them
and writes each reply into the client's own FIFO, <fifo_reply_dir>/<reply_name>.
That is the protocol of kamctl's RPCFIFO engine:

    mkfifo /tmp/kamailio_receiver_123
    printf '{"jsonrpc": "2.0", "method": "core.uptime", "reply_name": "kamailio_receiver_123", "id": 123}' \
        > /run/kamapy/kamapy_rpc.fifo
    cat /tmp/kamailio_receiver_123

A reply FIFO must really be a FIFO, not a link; a client that never opens it for
reading is given up on after a few tries, so one broken client cannot stall the server.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import stat
import time

from kamapy.rpc import run_deferred
from kamapy.rpc.context import TRANSPORT_FIFO

from .documents import DocumentSplitter
from .exchange import handle
from .paths import ensure_parent, set_owner_and_mode

log = logging.getLogger("kamapy.jsonrpcs")

OPEN_RETRIES = 4            # a client not reading yet gets this many more chances ...
OPEN_RETRY_DELAY = 0.08     # ... this far apart (Kamailio's numbers)
WRITE_TIMEOUT = 5.0         # a client that stops reading is dropped after this long
POLL_INTERVAL = 0.5


class FifoServer:
    def __init__(self, path: str, mode: int = 0o660, uid: int = -1, gid: int = -1,
                 reply_dir: str = "/tmp/", pretty: bool = True):
        self.path = path
        self.mode = mode or 0o600   # Kamailio refuses mode 0 and uses rw-------
        self.uid = uid
        self.gid = gid
        self.reply_dir = reply_dir
        self.pretty = pretty
        self.read_fd = -1
        self.keep_fd = -1
        self.poll_interval = POLL_INTERVAL   # how often serve() looks at should_stop

    # ------------------------------------------------------------------ master
    def create(self):
        """Make the FIFO and open it; OSError / ValueError with the reason."""
        if not os.path.isdir(self.reply_dir):
            raise ValueError(f"fifo_reply_dir {self.reply_dir!r} is not a directory")
        ensure_parent(self.path)
        try:
            os.unlink(self.path)  # a FIFO left by an earlier run
        except FileNotFoundError:
            pass
        os.mkfifo(self.path, self.mode)
        set_owner_and_mode(self.path, self.mode, self.uid, self.gid)
        self.read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self.keep_fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)

    def destroy(self):
        for fd in (self.read_fd, self.keep_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.read_fd = self.keep_fd = -1
        try:
            if stat.S_ISFIFO(os.lstat(self.path).st_mode):
                os.unlink(self.path)
        except OSError:
            pass

    # ------------------------------------------------------------------ child
    def serve(self, should_stop):
        splitter = DocumentSplitter()
        while not should_stop():
            try:
                ready, _, _ = select.select([self.read_fd], [], [], self.poll_interval)
            except InterruptedError:
                continue
            if not ready:
                continue
            try:
                data = os.read(self.read_fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                continue
            for doc in splitter.feed(data):
                self.handle(doc)
            if splitter.dropped:
                log.warning("dropped %d oversized FIFO request(s)", splitter.dropped)
                splitter.dropped = 0

    def handle(self, doc: bytes):
        ex = handle(doc, TRANSPORT_FIFO, self.pretty, fifo=True)
        if ex.body is not None and ex.reply_name:
            self.write_reply(ex.reply_name, ex.body)
        run_deferred(ex.deferred)

    def write_reply(self, name: str, body: bytes) -> bool:
        path = os.path.join(self.reply_dir, name)
        fd = _open_reply_fifo(path)
        if fd < 0:
            return False
        try:
            return _write_all(fd, body, path)
        finally:
            os.close(fd)


def _open_reply_fifo(path: str) -> int:
    """The client's FIFO opened for writing, or -1 (logged)."""
    for attempt in range(OPEN_RETRIES + 1):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError as e:
            if e.errno == errno.ENXIO and attempt < OPEN_RETRIES:
                time.sleep(OPEN_RETRY_DELAY)  # the client has not opened it for reading yet
                continue
            if e.errno == errno.ENXIO:
                log.error("no client at %s", path)
            else:
                log.error("cannot open reply fifo %s: %s", path, e.strerror)
            return -1
        st = os.fstat(fd)
        if not stat.S_ISFIFO(st.st_mode) or st.st_nlink > 1:
            log.error("security: reply fifo %s is not a plain fifo", path)
            os.close(fd)
            return -1
        return fd
    return -1


def _write_all(fd: int, body: bytes, path: str) -> bool:
    deadline = time.monotonic() + WRITE_TIMEOUT
    view = memoryview(body)
    while view:
        left = deadline - time.monotonic()
        if left <= 0:
            log.error("reply fifo %s: client stopped reading", path)
            return False
        try:
            _, writable, _ = select.select([], [fd], [], left)
        except InterruptedError:
            continue
        if not writable:
            continue
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            continue
        except OSError as e:
            log.error("failed to write the reply to fifo %s: %s", path, e.strerror)
            return False
        view = view[n:]
    return True
