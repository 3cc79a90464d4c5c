"""The TCP main process (Kamailio: tcp_main.c tcp_main_loop): accepts on every tcp and
tls listen socket and hands each new connection to the least loaded TCP reader,
passing the file descriptor over the reader's unix socket (SCM_RIGHTS, as Kamailio
does), then closes its own copy -- the reader owns the connection from then on.

tcp_max_connections is checked here, before a reader sees anything: a connection
over the limit is closed at once with a log line, so a flood of idle connections
costs a descriptor for a moment and nothing else.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from selectors import EVENT_READ

import msgpack

from ..runtime import rt
from ..sip.msg import PROTO_TCP, PROTO_TLS
from . import tcp_state
from .poller import Poller
from .tcp_state import C_OPEN, C_OWNED, CMD_ADOPT, PROTO_COUNTER

log = logging.getLogger("kamapy.tcp")

ACCEPT_BATCH = 64
LIMIT_LOG_EVERY = 5.0   # seconds between "limit reached" lines while a flood goes on


def stream_sockets():
    return [si for si in rt.sockets if si.proto in (PROTO_TCP, PROTO_TLS) and si.sock is not None]


def tcp_main_loop(_arg=None):
    st = tcp_state.state
    sel = Poller()
    for si in stream_sockets():
        si.sock.setblocking(False)
        sel.register(si.sock.fileno(), EVENT_READ, _listener_data(si))
    max_conns = int(getattr(rt.core, "tcp_max_connections", 2048) or 2048)
    max_tls = getattr(rt.core, "tls_max_connections", None)
    refused = 0
    last_log = 0.0
    while not rt.stopping:
        try:
            events = sel.select(0.5)
        except InterruptedError:
            continue
        for data, _mask in events:
            si, accept, local, index = data
            for _ in range(ACCEPT_BATCH):
                try:
                    # the bare descriptor: no socket object is made for a copy that
                    # is only passed on and closed
                    fd, addr = accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:
                    log.error("accept on %s failed: %s", si, e)
                    break
                over = st.counters.get(C_OPEN) >= max_conns
                if not over and max_tls is not None and si.proto == PROTO_TLS:
                    over = st.counters.get(tcp_state.C_TLS) >= int(max_tls)
                if over:
                    _close(fd)
                    refused += 1
                    now = time.monotonic()
                    if now - last_log >= LIMIT_LOG_EVERY:
                        log.error("maximum number of connections exceeded (tcp_max_connections=%d): "
                                  "%d connection(s) refused, the last from %s:%d",
                                  max_conns, refused, addr[0], addr[1])
                        last_log, refused = now, 0
                    continue
                hand_over(st, si, fd, addr, local, index)


def _listener_data(si):
    """What each accept needs, worked out once: the listener's bare accept, its local
    address when it is a specific one (a wildcard listener asks per connection), and
    its index in rt.sockets."""
    local = None
    if si.address not in ("0.0.0.0", "::"):
        local = si.sock.getsockname()[:2]
    return si, si.sock._accept, local, rt.sockets.index(si)


def _close(fd: int):
    try:
        os.close(fd)
    except OSError:
        pass


def hand_over(st, si, fd, addr, local=None, index=None):
    conid = st.new_conid()
    st.counters.add(C_OPEN, 1)
    c = PROTO_COUNTER.get(si.proto)
    if c is not None:
        st.counters.add(c, 1)
    if local is None:
        s = socket.socket(si.af, socket.SOCK_STREAM, 0, fileno=fd)
        try:
            local = s.getsockname()
        except OSError:
            local = (si.address, si.port)
        finally:
            s.detach()   # the descriptor stays open for the hand-over
    if index is None:
        index = rt.sockets.index(si)
    payload = msgpack.packb([si.proto, addr[0], addr[1], local[0], local[1], index])
    # the least loaded reader (Kamailio picks the reader with the fewest connections)
    best = min(range(st.readers), key=lambda i: st.counters.get(C_OWNED + i))
    st.counters.add(C_OWNED + best, 1)
    try:
        socket.send_fds(st.ctrl_out[best], [st.pack_cmd(CMD_ADOPT, conid, payload)], [fd])
    except OSError as e:
        st.counters.add(C_OWNED + best, -1)
        log.error("cannot hand the connection from %s:%d to tcp reader %d: %s", addr[0], addr[1], best, e)
        st.counters.add(C_OPEN, -1)
        if c is not None:
            st.counters.add(c, -1)
    finally:
        _close(fd)   # the reader has its own copy now
