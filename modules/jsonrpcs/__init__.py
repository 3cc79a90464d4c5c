"""jsonrpcs: JSON-RPC 2.0 server for the RPC commands (Kamailio: modules/jsonrpcs).

    loadmodule "jsonrpcs.so"
    modparam("jsonrpcs", "transport", 6)       # bits: 1 http, 2 fifo, 4 datagram; 0 all
    modparam("jsonrpcs", "fifo_name", "kamapy_rpc.fifo")    # relative: in the run dir
    modparam("jsonrpcs", "dgram_socket", "kamapy_rpc.sock")

Transports: a FIFO (kamctl's RPCFIFO protocol) and a datagram socket, each served by
its own process ("JSONRPCS FIFO", "JSONRPCS DATAGRAM" in core.psx) which the master
forks after mod_init; HTTP through xhttp when that module exists (http_hook.py).
The FIFO and the socket are created by the master in mod_init, so a bad path stops
the server at start-up, and removed at shutdown.

Config functions: jsonrpc_dispatch() (HTTP, in event_route[xhttp:request]) and
jsonrpc_exec(cmd), which runs a command from the config and fills $jsonrpl(code),
$jsonrpl(text), $jsonrpl(body).
"""

from __future__ import annotations

import logging

from kamapy.module import (
    ANY_ROUTE,
    PROC_RPC,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
    Process,
    RpcCommand,
)
from kamapy.pv.registry import PvDef
from kamapy.runtime import rt

from . import http_hook, paths, plain_reply
from .dgram_server import DgramServer
from .fifo_server import FifoServer

log = logging.getLogger("kamapy.jsonrpcs")

TRANSPORT_ALL = 0
TRANSPORT_HTTP = 1
TRANSPORT_FIFO = 2
TRANSPORT_DGRAM = 4
TRANSPORT_TCP = 8

fifo: FifoServer | None = None
dgram: DgramServer | None = None


def _wants(transport: int, bit: int) -> bool:
    return transport == TRANSPORT_ALL or bool(transport & bit)


def _required(transport: int, bit: int) -> bool:
    """An explicitly asked-for transport must work; with 0 ("all available") a
    transport that cannot start is left out."""
    return bool(transport & bit)


def mod_init():
    global fifo, dgram
    from kamapy.rpc.registry import DuplicateRpcCommand, commands
    try:
        commands()   # build the command table now: a duplicate name stops the start
    except DuplicateRpcCommand as e:
        log.error("%s", e)
        return -1
    transport = exports.param("transport")
    pretty = bool(exports.param("pretty_format"))
    procs = []

    http_hook.enabled = False
    if _wants(transport, TRANSPORT_HTTP):
        if http_hook.xhttp_available():
            http_hook.enabled = True
        elif _required(transport, TRANSPORT_HTTP):
            log.error("cannot bind to XHTTP API (load the xhttp module for transport 1)")
            return -1

    if _wants(transport, TRANSPORT_FIFO) and exports.param("fifo_name"):
        try:
            fifo = FifoServer(paths.resolve(exports.param("fifo_name")), exports.param("fifo_mode"),
                              paths.to_uid(exports.param("fifo_user")),
                              paths.to_gid(exports.param("fifo_group")),
                              exports.param("fifo_reply_dir"), pretty)
            fifo.create()
            procs.append(Process("JSONRPCS FIFO", _run_fifo, rank=PROC_RPC))
            log.debug("JSON-RPC FIFO at %s", fifo.path)
        except (OSError, ValueError) as e:
            fifo = None
            if _required(transport, TRANSPORT_FIFO):
                log.error("cannot initialize fifo transport (%s): %s",
                          paths.resolve(exports.param("fifo_name")), _reason(e))
                return -1

    if _wants(transport, TRANSPORT_DGRAM) and exports.param("dgram_socket"):
        address = exports.param("dgram_socket")
        if not address.startswith("udp:"):
            address = paths.resolve(address)
        try:
            dgram = DgramServer(address, exports.param("dgram_mode"),
                                paths.to_uid(exports.param("dgram_user")),
                                paths.to_gid(exports.param("dgram_group")), pretty)
            dgram.create()
            procs.append(Process("JSONRPCS DATAGRAM", _run_dgram, max(1, exports.param("dgram_workers")), rank=PROC_RPC))
            log.debug("JSON-RPC datagram socket at %s", address)
        except (OSError, ValueError) as e:
            dgram = None
            if _required(transport, TRANSPORT_DGRAM):
                log.error("cannot initialize datagram transport (%s): %s", address, _reason(e))
                return -1

    if exports.param("tcp_socket"):
        log.warning("jsonrpcs: tcp_socket is not supported by kamapy; ignored")
    exports.procs[:] = procs
    return 0


def _reason(e: Exception) -> str:
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


def _should_stop() -> bool:
    return rt.stopping


def _run_fifo(_index: int):
    fifo.serve(_should_stop)


def _run_dgram(_index: int):
    dgram.serve(_should_stop)


def destroy():
    global fifo, dgram
    if fifo is not None:
        fifo.destroy()
        fifo = None
    if dgram is not None:
        dgram.destroy()
        dgram = None


# ---------------------------------------------------------------------- config functions
def w_jsonrpc_dispatch(msg) -> int:
    return http_hook.jsonrpc_dispatch(msg, bool(exports.param("pretty_format")))


def w_jsonrpc_exec(_msg, command: str) -> int:
    if not command:
        log.error("cannot get the rpc command parameter")
        return -1
    return plain_reply.execute(command, bool(exports.param("pretty_format")))


# ---------------------------------------------------------------------- RPC
def rpc_echo(_rpc, params):
    """jsonrpc.echo: a string (numbers printed) and then an integer, if given."""
    from kamapy.rpc.params import opt_int, opt_str
    out = []
    text = opt_str(params, 0)
    if text is not None:
        out.append(text)
        number = opt_int(params, 1)
        if number is not None:
            out.append(number)
    return out


def check():
    """What mod_init would refuse, for `kamapy -c` (Kamailio's jsonrpcs: 1 is HTTP,
    which needs the xhttp module loaded)."""
    transport = exports.param("transport")
    if _required(transport, TRANSPORT_HTTP) and not http_hook.xhttp_available():
        return [("transport", f"transport {transport} asks for HTTP (bit 1), which needs the xhttp module "
                              "(not loaded); use 2 for the FIFO, 4 for the datagram socket")]
    return []


def _check_transport(value):
    if value < 0 or value > 15:
        raise ValueError("transport is a bit mask: 0 all, 1 http, 2 fifo, 4 datagram")


exports = ModuleExports(
    name="jsonrpcs",
    params=[
        Param("pretty_format", int, 1),
        Param("transport", int, TRANSPORT_FIFO | TRANSPORT_DGRAM, validate=_check_transport),
        Param("fifo_name", str, "kamapy_rpc.fifo"),
        Param("fifo_mode", int, 0o660),
        Param("fifo_group", str, ""),
        Param("fifo_user", str, ""),
        Param("fifo_reply_dir", str, "/tmp/"),
        Param("dgram_socket", str, "kamapy_rpc.sock"),
        Param("dgram_workers", int, 1),
        Param("dgram_timeout", int, 2000),
        Param("dgram_mode", int, 0o660),
        Param("dgram_group", str, ""),
        Param("dgram_user", str, ""),
        Param("tcp_socket", str, ""),
    ],
    functions=[
        Function("jsonrpc_dispatch", w_jsonrpc_dispatch, (), REQUEST_ROUTE),
        Function("jsonrpc_exec", w_jsonrpc_exec, (Arg("spve"),), ANY_ROUTE),
    ],
    check=check,
    rpc=[RpcCommand("jsonrpc.echo", rpc_echo, "Sample echo command")],
    pvs=[PvDef("jsonrpl", plain_reply.JsonrplPv, inner="required")],
    procs=[],          # filled by mod_init from the transport parameter
    mod_init=mod_init,
    destroy=destroy,
)
