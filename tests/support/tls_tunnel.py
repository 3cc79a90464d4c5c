"""A TLS tunnel for SIPp, which Debian builds without OpenSSL (`-t l1` cannot run).

SIPp speaks plain TCP to a loopback port of the tunnel; the tunnel carries the bytes
over a real TLS connection (Python's ssl, trustme certificates) to the server under
test, so the TLS hop is the server's own TLS stack. Two directions:

- TlsTunnel(mode="client"): listens on TCP, each accepted connection gets its own TLS
  connection to `target` (the server's tls listener); bytes are piped both ways.
- TlsTunnel(mode="server"): a TLS listener (server certificate) that forwards each
  connection to a plain TCP `target` (a SIPp UAS), so the server can reach a callee
  over TLS.

A byte pipe, nothing SIP-aware: SIPp's messages pass unchanged. Bounded: at most
`max_conns` connections at a time (more are closed at once), connects time out, and
stop() closes everything. The event loop runs in one daemon thread.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass, field

CONNECT_TIMEOUT = 3.0
CHUNK = 65536


@dataclass
class TunnelStats:
    accepted: int = 0
    refused: int = 0        # over max_conns or the far side could not be reached
    bytes_in: int = 0       # from the accepting side to the target
    bytes_out: int = 0      # from the target back
    tls_versions: list[str] = field(default_factory=list)   # one per TLS session set up
    errors: list[str] = field(default_factory=list)


class TlsTunnel:
    def __init__(self, mode: str, target: tuple[str, int], ctx: ssl.SSLContext,
                 listen_port: int = 0, max_conns: int = 32):
        if mode not in ("client", "server"):
            raise ValueError("mode is 'client' or 'server'")
        self.mode, self.target, self.ctx, self.max_conns = mode, target, ctx, max_conns
        self.stats = TunnelStats()
        self._lsock = socket.socket()
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", listen_port))
        self._lsock.listen(64)
        self.port = self._lsock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"tls-tunnel-{mode}-{self.port}")
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._active = 0      # touched only in the loop's thread

    # ------------------------------------------------------------------ life cycle
    def start(self) -> TlsTunnel:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        fut.result(5)
        return self

    def stop(self):
        if not self._thread.is_alive():
            self._lsock.close()
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    async def _serve(self):
        ssl_in = self.ctx if self.mode == "server" else None
        self._server = await asyncio.start_server(self._handle, sock=self._lsock, ssl=ssl_in,
                                                  ssl_handshake_timeout=CONNECT_TIMEOUT if ssl_in else None)

    async def _shutdown(self):
        if self._server:
            self._server.close()
        for w in list(self._writers):
            w.close()
        await asyncio.sleep(0)

    # ------------------------------------------------------------------ one connection
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.stats.accepted += 1
        if self._active >= self.max_conns:
            self.stats.refused += 1
            writer.close()
            return
        self._active += 1
        try:
            await self._tunnel(reader, writer)
        finally:
            self._active -= 1

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._writers.add(writer)
        if self.mode == "server":
            self._note_tls(writer)
        try:
            far_r, far_w = await asyncio.wait_for(self._connect(), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as e:
            self.stats.refused += 1
            self.stats.errors.append(f"connect {self.target}: {e!r}")
            self._writers.discard(writer)
            writer.close()
            return
        self._writers.add(far_w)
        if self.mode == "client":
            self._note_tls(far_w)
        await asyncio.gather(self._pipe(reader, far_w, "bytes_in"), self._pipe(far_r, writer, "bytes_out"))
        self._writers.discard(writer)
        self._writers.discard(far_w)

    async def _connect(self):
        host, port = self.target
        if self.mode == "client":
            return await asyncio.open_connection(host, port, ssl=self.ctx, server_hostname=host)
        return await asyncio.open_connection(host, port)

    def _note_tls(self, writer: asyncio.StreamWriter):
        obj = writer.get_extra_info("ssl_object")
        self.stats.tls_versions.append(obj.version() if obj else "none")

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, counter: str):
        """Copy until EOF or an error, then close both ends: TLS has no half-close
        that asyncio exposes, and SIPp does not half-close either."""
        try:
            while True:
                data = await src.read(CHUNK)
                if not data:
                    break
                setattr(self.stats, counter, getattr(self.stats, counter) + len(data))
                dst.write(data)
                await dst.drain()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as e:
            self.stats.errors.append(f"{counter}: {e!r}")
        finally:
            dst.close()
