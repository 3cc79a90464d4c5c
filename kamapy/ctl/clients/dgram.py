"""The datagram client: one request per datagram on jsonrpcs' unix socket (or
"udp:host:port"); we bind our own socket so the server can answer."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import uuid

from . import CtlError, NoAnswer

MAX_REPLY = 4 * 1024 * 1024


class DgramClient:
    def __init__(self, address: str, timeout: float):
        self.address = address
        self.timeout = timeout

    def describe(self) -> str:
        return f"socket {self.address}"

    def _target(self):
        if self.address.startswith("udp:"):
            host, _, port = self.address[4:].rpartition(":")
            host = host.strip("[]")
            return (socket.AF_INET6 if ":" in host else socket.AF_INET), (host, int(port))
        return socket.AF_UNIX, self.address

    def request(self, doc: dict) -> bytes:
        family, target = self._target()
        sock = socket.socket(family, socket.SOCK_DGRAM)
        own_path = None
        try:
            if family == socket.AF_UNIX:
                own_path = os.path.join(tempfile.gettempdir(), f"kamapyctl_{os.getpid()}_{uuid.uuid4().hex[:8]}.sock")
                sock.bind(own_path)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, MAX_REPLY)
            except OSError:
                pass
            sock.settimeout(self.timeout)
            try:
                sock.sendto(json.dumps(doc).encode(), target)
            except (FileNotFoundError, ConnectionRefusedError):
                raise NoAnswer(f"no kamapy listening on {self.describe()} (is the server running?)") from None
            except OSError as e:
                raise CtlError(f"cannot send to {self.describe()}: {e.strerror}") from None
            try:
                return sock.recv(MAX_REPLY)
            except socket.timeout:
                raise NoAnswer(f"no answer from kamapy at {self.describe()} within {self.timeout:g}s") from None
            except OSError as e:
                raise NoAnswer(f"no answer from kamapy at {self.describe()}: {e.strerror}") from None
        finally:
            sock.close()
            if own_path:
                try:
                    os.unlink(own_path)
                except OSError:
                    pass
