"""The core's TCP RPC commands (Kamailio: core_cmd.c core.tcp_info, core.tcp_list,
core.tcp_options), with Kamailio's field names. They read the shared connection
tables, so any process (the jsonrpcs one) answers them."""

from __future__ import annotations

import time

from ..module import RpcCommand
from ..rpc.errors import RpcError
from ..runtime import rt
from ..sip.msg import PROTO_NAMES
from . import tcp_state
from .tcp_state import C_OPEN, C_TLS


def _core(name, default):
    v = getattr(rt.core, name, None)
    return default if v is None else v


def _disabled(_rpc):
    if tcp_state.state is None:
        raise RpcError(500, "tcp support disabled")
    return tcp_state.state


def tcp_info(rpc, _params):
    st = _disabled(rpc)
    queued = 0
    for _conid, rec in st.all_records():
        queued += rec[10] if len(rec) > 10 else 0
    return {
        "readers": st.readers,
        "max_connections": int(_core("tcp_max_connections", 2048)),
        "max_tls_connections": int(_core("tls_max_connections", 2048)),
        "opened_connections": st.counters.get(C_OPEN),
        "opened_tls_connections": st.counters.get(C_TLS),
        "write_queued_bytes": queued,
    }


def tcp_list(rpc, _params):
    st = _disabled(rpc)
    lifetime = int(_core("tcp_connection_lifetime", 120))
    out = []
    now = time.time()
    for conid, entry in sorted(_entries(st)):
        rec, expires = entry
        state = rec[9] if len(rec) > 9 else "open"
        out.append({
            "id": conid,
            "type": PROTO_NAMES.get(rec[1], "tcp").upper(),
            "state": "CONN_OK" if state == "open" else "CONN_CONNECT" if state in ("connecting", "pending")
            else "CONN_INIT",
            "timeout": max(0, int(expires - now)),
            "lifetime": lifetime,
            "ref_count": 1,
            "src_ip": rec[2],
            "src_port": rec[3],
            "dst_ip": rec[4],
            "dst_port": rec[5],
        })
    return out


def _entries(st):
    import msgpack
    for key, raw, expires, _flags in st.conns.entries():
        yield int(key[1:]), (msgpack.unpackb(raw), expires)


def tcp_options(rpc, _params):
    _disabled(rpc)
    return {
        "connect_timeout": int(_core("tcp_connect_timeout", 10)),
        "send_timeout": int(_core("tcp_send_timeout", 10)),
        "connection_lifetime": int(_core("tcp_connection_lifetime", 120)),
        "max_connections(soft)": int(_core("tcp_max_connections", 2048)),
        "max_tls_connections(soft)": int(_core("tls_max_connections", 2048)),
        "no_connect": int(_core("tcp_no_connect", 0)),
        "async": 1,
        "conn_wq_max": int(_core("tcp_conn_wq_max", 32768)),
        "keepalive": int(_core("tcp_keepalive", 1)),
        "keepidle": int(_core("tcp_keepidle", 0)),
        "keepintvl": int(_core("tcp_keepintvl", 0)),
        "keepcnt": int(_core("tcp_keepcnt", 0)),
        "crlf_ping": int(_core("tcp_crlf_ping", 1)),
        "accept_aliases": int(_core("tcp_accept_aliases", 0)),
    }


COMMANDS = [
    RpcCommand("core.tcp_info", tcp_info, "Returns tcp related info."),
    RpcCommand("core.tcp_list", tcp_list, "Returns tcp connections details."),
    RpcCommand("core.tcp_options", tcp_options, "Returns active tcp options."),
]
