"""In-process tm: a private transaction store, one real loopback socket as kamapy's
listen socket, and a caller and a callee socket to see what tm sends."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest


def _modules_importable():
    from kamapy.loader import _ensure_module_tree
    _ensure_module_tree()


_modules_importable()


class Peer:
    """A UDP endpoint: what tm sends to it is read with recv()/drain()."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def recv(self, timeout=1.0) -> bytes | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65535)
        except socket.timeout:
            return None

    def drain(self, timeout=0.05) -> list[bytes]:
        out = []
        while True:
            d = self.recv(timeout)
            if d is None:
                return out
            out.append(d)

    def close(self):
        self.sock.close()


@pytest.fixture
def lab():
    from kamapy_modules.tm import cancel, config, context, stats, store

    from kamapy.net.socket_info import SocketInfo
    from kamapy.runtime import rt

    saved = (rt.sockets, rt.routes)
    from tests.support.ports import free_udp_port
    si = SocketInfo("udp", "127.0.0.1", free_udp_port())
    si.bind()
    rt.sockets = [si]
    rt.routes = SimpleNamespace(failure={}, onreply={}, branch={}, request=None, reply=None)
    store.set_store(store.TransactionStore(shared=False))
    config.cfg.load({p.name: p.default for p in config.PARAMS})
    cancel.cancel_b_method[0] = 1
    stats.bind()
    context.cur.reset(None)
    uac, uas, uas2 = Peer(), Peer(), Peer()
    yield SimpleNamespace(si=si, uac=uac, uas=uas, uas2=uas2, routes=rt.routes)
    for p in (uac, uas, uas2):
        p.close()
    si.close()
    rt.sockets, rt.routes = saved
    store.set_store(None)
    context.cur.reset(None)
