"""ctl: the binrpc transport for the RPC commands, so Kamailio's kamcmd works
against kamapy (Kamailio: modules/ctl).

    loadmodule "ctl.so"
    modparam("ctl", "binrpc", "unix:/run/kamapy/kamapy_ctl")   # the default
    modparam("ctl", "binrpc", "tcp:127.0.0.1:2046")
    modparam("ctl", "binrpc", "udp:*:2046")
    modparam("ctl", "binrpc", "unixd:/tmp/ctl_dgram")

    kamcmd -s unixs:/run/kamapy/kamapy_ctl core.uptime
    kamcmd -s tcp:127.0.0.1:2046 stats.get_statistics all

Every `binrpc` value adds a socket (unix stream, unix datagram, UDP, TCP); without
one, ctl listens on `kamapy_ctl` in the runtime folder (rundir, /run/kamapy by
default; Kamailio's is /run/kamailio/kamailio_ctl, which kamapy leaves to a Kamailio
running beside it -- give kamcmd `-s`). The master binds the sockets in mod_init;
one process, "ctl handler", serves them all and runs the commands of the same
registry jsonrpcs serves. Not built: the obsolete `fifo` protocol (refused at
start-up) and `autoconversion` (kamapy's commands already accept numbers for
strings and strings for numbers where Kamailio's ".s" would).
"""

from __future__ import annotations

import logging
import os

from kamapy.module import PROC_RPC, ModuleExports, Param, Process, RpcCommand
from kamapy.rpc import RpcError
from kamapy.runtime import rt

from . import server
from .server import CtlSocket, Handler, parse_listen_id

log = logging.getLogger("kamapy.ctl")

DEFAULT_SOCKET_NAME = "kamapy_ctl"
DEFAULT_RUN_DIR = "/run/kamapy"

sockets: list[CtlSocket] = []
handler: Handler | None = None


def _run_dir() -> str:
    core = rt.core
    value = getattr(core, "rundir", None) if core is not None else None
    return str(value) if value else DEFAULT_RUN_DIR


def _ids():
    values = list(exports.param("binrpc") or [])
    if not values:
        values = ["unixs:" + os.path.join(_run_dir(), DEFAULT_SOCKET_NAME)]
    return [parse_listen_id(v) for v in values]


def _to_id(value, lookup) -> int:
    if value in ("", None):
        return -1
    if isinstance(value, int) or str(value).lstrip("-").isdigit():
        return int(value)
    try:
        return lookup(str(value))
    except KeyError:
        raise ValueError(f"bad user/group name {value!r}") from None


def _uid(value) -> int:
    import pwd
    return _to_id(value, lambda n: pwd.getpwnam(n).pw_uid)


def _gid(value) -> int:
    import grp
    return _to_id(value, lambda n: grp.getgrnam(n).gr_gid)


def mod_init():
    global sockets, handler
    from kamapy.rpc.registry import DuplicateRpcCommand, commands
    try:
        commands()
    except DuplicateRpcCommand as e:
        log.error("%s", e)
        return -1
    if exports.param("fifo"):
        log.error("ctl: the fifo protocol is not supported by kamapy (modparam fifo %r); "
                  "use binrpc, or jsonrpcs for a FIFO", exports.param("fifo"))
        return -1
    try:
        ids = _ids()
        uid, gid = _uid(exports.param("user")), _gid(exports.param("group"))
    except ValueError as e:
        log.error("ctl: %s", e)
        return -1
    max_body = exports.param("binrpc_max_body_size")
    max_struct = exports.param("binrpc_struct_max_body_size")
    max_body = (max_body if max_body > 0 else 4) * 1024
    max_struct = (max_struct if max_struct > 0 else 1) * 1024
    made = []
    for lid in ids:
        cs = CtlSocket(lid)
        try:
            cs.create(exports.param("mode"), uid, gid)
        except OSError as e:
            log.error("ctl: init ctrl. sockets failed: cannot listen on %s: %s", lid,
                      e.strerror or e)
            for other in made:
                other.close(unlink=True)
            return -1
        log.debug("ctl: listening on %s", lid)
        made.append(cs)
    sockets = made
    handler = Handler(sockets, max_body, max_struct)
    exports.procs[:] = [Process("ctl handler", _run, rank=PROC_RPC)]
    return 0


def _run(_index: int):
    handler.serve(lambda: rt.stopping)


def destroy():
    global sockets, handler
    for cs in sockets:
        cs.close(unlink=True)
    sockets = []
    handler = None


def check():
    problems = []
    for value in exports.param("binrpc") or []:
        try:
            parse_listen_id(value)
        except ValueError as e:
            problems.append(("binrpc", str(e)))
    if exports.param("fifo"):
        problems.append(("fifo", "the fifo protocol is not supported by kamapy's ctl "
                                 "(use binrpc, or jsonrpcs for a FIFO)"))
    for pname, fn in (("user", _uid), ("group", _gid)):
        try:
            fn(exports.param(pname))
        except ValueError as e:
            problems.append((pname, str(e)))
    return problems


# ---------------------------------------------------------------------- RPC
def _served_here(rpc):
    if rpc.transport != server.TRANSPORT_BINRPC or handler is None:
        raise RpcError(606, "rpc available only over binrpc (ctl)")


def rpc_listen(_rpc, _params):
    out = []
    for cs in sockets:
        out.extend(cs.listen_row())
    return out


def rpc_connections(rpc, _params):
    _served_here(rpc)
    return len(handler.connections)


def rpc_who(rpc, _params):
    _served_here(rpc)
    if not handler.connections:
        raise RpcError(400, "no open stream connection")
    out = []
    for row in handler.who_rows():
        out.extend(row)
    return out


def _check_binrpc(value):
    parse_listen_id(value)


exports = ModuleExports(
    name="ctl",
    params=[
        Param("binrpc", str, None, multi=True, validate=_check_binrpc),
        Param("binrpc_buffer_size", int, 1024),
        Param("mode", int, 0o600),
        Param("user", str, ""),
        Param("group", str, ""),
        Param("fifo", str, ""),
        Param("autoconversion", int, 0,
              unsupported="kamapy's RPC commands convert numbers and strings themselves"),
        Param("binrpc_max_body_size", int, 32),
        Param("binrpc_struct_max_body_size", int, 8),
    ],
    rpc=[
        RpcCommand("ctl.who", rpc_who, "list open connections"),
        RpcCommand("ctl.connections", rpc_connections, "returns number of open connections"),
        RpcCommand("ctl.listen", rpc_listen, "list ctl listen sockets"),
    ],
    procs=[],
    mod_init=mod_init,
    destroy=destroy,
    check=check,
    doc=__doc__,
)
