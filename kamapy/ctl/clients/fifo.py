"""The FIFO client: kamctl's RPCFIFO protocol (see modules/jsonrpcs/fifo_server.py).

Our reply FIFO is made and opened for reading before the request goes out, so the
server finds a reader at once.
"""

from __future__ import annotations

import errno
import json
import os
import select
import time
import uuid

from . import CtlError, NoAnswer

REPLY_DIR = "/tmp"


class FifoClient:
    def __init__(self, path: str, timeout: float, reply_dir: str = REPLY_DIR):
        self.path = path
        self.timeout = timeout
        self.reply_dir = reply_dir

    def describe(self) -> str:
        return f"FIFO {self.path}"

    def request(self, doc: dict) -> bytes:
        name = f"kamapyctl_{os.getpid()}_{uuid.uuid4().hex[:8]}"  # no '.': the server refuses it
        reply_path = os.path.join(self.reply_dir, name)
        os.mkfifo(reply_path, 0o600)
        try:
            rfd = os.open(reply_path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                self._send(dict(doc, reply_name=name))
                return self._read_reply(rfd)
            finally:
                os.close(rfd)
        finally:
            try:
                os.unlink(reply_path)
            except OSError:
                pass

    def _send(self, doc: dict):
        data = (json.dumps(doc) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise NoAnswer(f"no kamapy FIFO at {self.path} (is the server running with jsonrpcs?)") from None
        except OSError as e:
            if e.errno == errno.ENXIO:
                raise NoAnswer(f"nobody reads the FIFO {self.path} (the server is not running)") from None
            raise CtlError(f"cannot open the FIFO {self.path}: {e.strerror}") from None
        try:
            os.write(fd, data)   # one write below PIPE_BUF (4 kB) is atomic between clients
        except OSError as e:
            raise CtlError(f"cannot write to the FIFO {self.path}: {e.strerror}") from None
        finally:
            os.close(fd)

    def _read_reply(self, rfd: int) -> bytes:
        deadline = time.monotonic() + self.timeout
        chunks = []
        got_data = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoAnswer(f"no answer from kamapy at {self.describe()} within {self.timeout:g}s")
            ready, _, _ = select.select([rfd], [], [], left)
            if not ready:
                continue
            data = os.read(rfd, 65536)
            if data:
                chunks.append(data)
                got_data = True
            elif got_data:
                return b"".join(chunks)   # the server closed its end: the reply is complete
            else:
                time.sleep(0.01)          # no writer yet
