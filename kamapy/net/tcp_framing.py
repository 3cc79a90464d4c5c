"""Cutting SIP messages out of a byte stream (Kamailio: tcp_read.c tcp_read_headers).

A message is its header block up to the first empty line, then Content-Length bytes
of body. Between messages, CRLFs are keepalives (RFC 5626 §4.4.1): a double CRLF is a
ping the server answers with one CRLF (tcp_crlf_ping), a single CRLF is a pong and is
dropped. A message longer than the read buffer (tcp_rd_buf_size), a header block
without Content-Length (unless tcp_accept_no_cl) or a bad Content-Length is an error
that closes the connection, as Kamailio closes it: nothing else of the stream can be
trusted after a framing error.
"""

from __future__ import annotations

import re

PING = "ping"   # a double CRLF: answer with CRLF
MSG = "msg"

_CL = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)


class FramingError(Exception):
    pass


class Framer:
    """feed(bytes) -> list of (MSG, bytes) / (PING, b""); raises FramingError."""

    __slots__ = ("buf", "max_size", "accept_no_cl", "_scan", "_need")

    def __init__(self, max_size: int = 16384, accept_no_cl: bool = False):
        self.buf = bytearray()
        self.max_size = max_size
        self.accept_no_cl = accept_no_cl
        self._scan = 0      # where to look again for the end of the header block
        self._need = -1     # total length of the message being read, once its headers are in

    def feed(self, data: bytes) -> list:
        buf = self.buf
        buf += data
        out = []
        while buf:
            if self._need < 0:
                # keepalives between messages
                if buf[0] in (13, 10):
                    if buf.startswith(b"\r\n\r\n"):
                        del buf[:4]
                        out.append((PING, b""))
                        continue
                    if len(buf) < 4 and b"\r\n\r\n".startswith(bytes(buf)):
                        break                # may still become a ping: wait (kept, not a message)
                    if buf.startswith(b"\r\n"):
                        del buf[:2]          # a pong, or a single-CRLF keepalive: dropped
                        continue
                    del buf[:1]
                    continue
                end = buf.find(b"\r\n\r\n", self._scan)
                sep = 4
                if end < 0:
                    lf = buf.find(b"\n\n", self._scan)
                    if lf >= 0:
                        end, sep = lf, 2
                if end < 0:
                    if len(buf) >= self.max_size:
                        raise FramingError(f"no end of headers within {self.max_size} bytes")
                    self._scan = max(0, len(buf) - 3)
                    break
                head = bytes(buf[:end])
                m = _CL.search(head)
                if m is None:
                    if not self.accept_no_cl:
                        raise FramingError("no Content-Length header")
                    body = 0
                else:
                    text = m.group(1).strip()
                    if not text.isdigit():
                        raise FramingError(f"bad Content-Length {text[:20]!r}")
                    body = int(text)
                self._need = end + sep + body
                if self._need > self.max_size:
                    raise FramingError(f"message of {self._need} bytes is larger than the "
                                       f"read buffer ({self.max_size})")
            if len(buf) < self._need:
                break
            out.append((MSG, bytes(buf[:self._need])))
            del buf[:self._need]
            self._need = -1
            self._scan = 0
        return out

    @property
    def in_body(self) -> bool:
        """The headers are in; the body is awaited."""
        return self._need >= 0

    @property
    def pending(self) -> int:
        return len(self.buf)

    @property
    def partial(self) -> bool:
        """Part of a message is in (CRLFs waiting to become a ping do not count)."""
        buf = self.buf
        return bool(buf) and (self._need >= 0 or len(buf) >= 4 or buf[0] not in (13, 10))
