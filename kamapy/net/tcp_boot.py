"""Setting up TCP/TLS in the master (Kamailio: main.c tcp_init, tcp_init_children).

prepare(core) runs after mod_init and before the fork: it refuses a tls listen
without the tls module, warns about every TCP core parameter set in the config that
kamapy does not act on, and makes the shared connection tables and the readers'
command sockets. child_specs() adds the TCP main process and tcp_children readers
(children when tcp_children is not set, as Kamailio) to the processes to fork.
"""

from __future__ import annotations

import logging

from ..runtime import rt
from ..sip.msg import PROTO_TCP, PROTO_TLS
from . import tcp_state, tcp_tune, tls_hooks

log = logging.getLogger("kamapy.tcp")

PROC_TCP_MAIN = -4   # Kamailio's rank for tcp_main

# TCP/TLS core parameters read by kamapy.net.tcp_*; any other tcp_* one set in the
# config is warned about at start-up (never silently ignored)
IMPLEMENTED = {
    "tcp_accept_aliases", "tcp_accept_no_cl", "tcp_children", "tcp_conn_wq_max",
    "tcp_connection_lifetime", "tcp_connect_timeout", "tcp_crlf_ping", "tcp_keepalive",
    "tcp_keepcnt", "tcp_keepidle", "tcp_keepintvl", "tcp_max_connections", "tcp_no_connect",
    "tcp_rd_buf_size", "tcp_send_timeout", "tcp_source_ipv4", "tcp_source_ipv6",
    "tcp_listen_backlog", "tcp_reuse_port", "tls_max_connections", "tls_port_no",
    "tcp_msg_read_timeout", "tcp_msg_data_timeout",
    # writes are always queued and flushed by the owning reader: Kamailio's async mode
    "tcp_async",
}
NOT_IMPLEMENTED = (
    "tcp_accept_haproxy", "tcp_accept_hep3", "tcp_accept_iplimit", "tcp_accept_protocols",
    "tcp_accept_unique", "tcp_check_timer", "tcp_clone_rcvbuf", "tcp_close_rst",
    "tcp_connection_match", "tcp_defer_accept", "tcp_delayed_ack", "tcp_fd_cache",
    "tcp_linger2", "tcp_main_threads", "tcp_poll_method", "tcp_script_mode", "tcp_syncnt", "tcp_wait_data", "tcp_wq_blk_size",
    "tcp_wq_max", "tls_connection_match_domain", "tls_threads_mode",
)


def stream_listeners():
    return [si for si in rt.sockets if si.proto in (PROTO_TCP, PROTO_TLS)]


def warn_unimplemented(core):
    for name in NOT_IMPLEMENTED:
        if getattr(core, name, None) is not None:
            log.warning("core parameter %s is not implemented by kamapy; ignored", name)
    buf_write = getattr(core, "tcp_buf_write", None)   # alias tcp_async
    if buf_write is not None and not buf_write:
        log.warning("tcp_async=no is not implemented: writes that would block are queued "
                    "(tcp_conn_wq_max) as with tcp_async=yes")


def prepare(core) -> str | None:
    listeners = stream_listeners()
    if not listeners:
        return None
    warn_unimplemented(core)
    tls = [si for si in listeners if si.proto == PROTO_TLS]
    if tls and tls_hooks.provider is None:
        return (f"listen={tls[0]}: TLS needs the tls module (loadmodule \"tls.so\") "
                "with a certificate (modparam(\"tls\", \"config\", ...) or the private_key "
                "and certificate parameters)")
    n = int(getattr(core, "tcp_children", 0) or 0) or int(getattr(core, "children", 8) or 8)
    tcp_state.init(n)
    tcp_tune.tune_listeners([si.sock for si in listeners if si.sock is not None])
    return None


def child_specs(child_spec, rank: int):
    """(ChildSpec list, next rank): tcp main first, then the readers."""
    if tcp_state.state is None:
        return [], rank
    from .tcp_main import tcp_main_loop
    from .tcp_reader import reader_loop
    specs = [child_spec("tcp main process", PROC_TCP_MAIN, tcp_main_loop, short="kamapy-tcp-main")]
    for i in range(tcp_state.state.readers):
        specs.append(child_spec(f"tcp receiver (generic) child={i}", rank, _bind(reader_loop, i),
                                short=f"kamapy-tcp-{rank}"))
        rank += 1
    return specs, rank


def _bind(fn, arg):
    return lambda: fn(arg)
