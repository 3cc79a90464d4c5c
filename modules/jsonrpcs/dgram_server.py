"""The datagram transport (Kamailio: jsonrpcs_sock.c): one request per datagram on a
unix socket (or "udp:host:port"), the reply sent back to the sender's address.

A unix-socket client must bind its own socket to a path to get an answer (kamcmd and
kamcli do). The master binds the socket (mod_init); dgram_workers processes named
"JSONRPCS DATAGRAM" share it.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import stat

from kamapy.rpc import encode, run_deferred
from kamapy.rpc.context import TRANSPORT_DGRAM
from kamapy.rpc.dispatch import reply
from kamapy.rpc.errors import error_object

from .exchange import handle
from .paths import ensure_parent, set_owner_and_mode

log = logging.getLogger("kamapy.jsonrpcs")

MAX_REQUEST = 65456          # Kamailio's datagram buffer
SEND_BUFFER = 4 * 1024 * 1024
POLL_INTERVAL = 0.5


def parse_address(address: str):
    """(family, bind address, unix path or None) of a dgram_socket value."""
    if address.startswith("udp:"):
        host, _, port = address[4:].rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"dgram_socket {address!r}: expected udp:host:port")
        if not 1024 <= int(port) <= 65535:
            raise ValueError("invalid port number; must be in [1024,65535]")
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return family, (host, int(port)), None
    return socket.AF_UNIX, address, address


class DgramServer:
    def __init__(self, address: str, mode: int = 0o660, uid: int = -1, gid: int = -1,
                 pretty: bool = True):
        self.family, self.bind_address, self.path = parse_address(address)
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.pretty = pretty
        self.sock: socket.socket | None = None
        self.poll_interval = POLL_INTERVAL   # how often serve() looks at should_stop

    def create(self):
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            if self.path:
                ensure_parent(self.path)
                try:
                    if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                        os.unlink(self.path)  # left by an earlier run
                except FileNotFoundError:
                    pass
            sock.bind(self.bind_address)
            if self.path:
                set_owner_and_mode(self.path, self.mode, self.uid, self.gid)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            except OSError:
                pass
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def destroy(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.path:
            try:
                if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                    os.unlink(self.path)
            except OSError:
                pass

    def serve(self, should_stop):
        sock = self.sock
        while not should_stop():
            try:
                ready, _, _ = select.select([sock], [], [], self.poll_interval)
            except InterruptedError:
                continue
            if not ready:
                continue
            try:
                data, addr = sock.recvfrom(MAX_REQUEST)
            except (BlockingIOError, InterruptedError):
                continue  # another worker took it
            except OSError as e:
                log.error("recvfrom: %s", e.strerror)
                continue
            if data.strip():
                self.handle(data, addr)

    def handle(self, data: bytes, addr):
        ex = handle(data, TRANSPORT_DGRAM, self.pretty)
        if ex.body is not None:
            if not addr:
                log.error("datagram request from an unbound socket: no address to reply to")
            else:
                self.send(ex.body, addr)
        run_deferred(ex.deferred)

    def send(self, body: bytes, addr):
        try:
            self.sock.sendto(body, addr)
        except OSError as e:
            log.error("failed to send the response (%d bytes) to %s: %s", len(body), addr, e.strerror)
            # tell the client rather than leave it waiting for its timeout
            err = reply(error=error_object(500, f"Reply too large to send ({len(body)} bytes)"), req_id=None)
            try:
                self.sock.sendto(encode(err, self.pretty), addr)
            except OSError:
                pass
