"""The core's RPC commands: system.* and core.* (Kamailio: src/core/core_cmd.c).

Each returns what Kamailio's jsonrpcs prints for the same command; the docs are the
texts system.methodHelp gives.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import time

from .. import __version__
from ..module import RpcCommand
from ..runtime import rt
from .errors import RpcError
from .params import int_params, opt_int, opt_str, str_params
from .shm_info import shm_info

NAME = "kamapy"
FLAGS = "SHM_MMAP, TLSF_MALLOC, USE_ROBUST_MUTEX, CFFI"


def full_version() -> str:
    """The version string core.version gives (Kamailio: full_version, without the
    trailing blank that its compile flags leave)."""
    return f"{NAME} {__version__} ({platform.machine()}/{sys.platform})"


# ---------------------------------------------------------------------- system.*
def system_list_methods(rpc, _params):
    return rpc.registry.names()


def system_method_help(rpc, params):
    name = opt_str(params, 0, convert=False)
    if name is None:
        raise RpcError(400, "Method Name Expected")
    text = rpc.registry.help(name)
    if text is None:
        raise RpcError(400, "command not found")
    return text


def system_method_signature(_rpc, _params):
    raise RpcError(500, "Not Implemented Yet")


# ---------------------------------------------------------------------- echoes
def core_prints(_rpc, params):
    return str_params(params, convert=False)


def core_printi(_rpc, params):
    return int_params(params)


def core_echo(_rpc, params):
    return str_params(params, convert=True)


# ---------------------------------------------------------------------- versions
def core_version(_rpc, _params):
    return full_version()


def core_flags(_rpc, _params):
    return FLAGS


def _compiler() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def core_info(_rpc, _params):
    return {
        "version": f"{NAME} {__version__}",
        "id": "unknown",
        "compiler": _compiler(),
        "compiled": "",
        "flags": FLAGS,
    }


def _ctime(t: float) -> str:
    return time.ctime(t)


def core_uptime(_rpc, _params):
    now = time.time()
    return {"now": _ctime(now), "up_since": _ctime(rt.started), "uptime": int(now - rt.started)}


def core_runinfo(_rpc, _params):
    now = time.time()
    up = int(now - rt.started)
    return {
        "name": NAME,
        "version": __version__,
        "sourceid": "unknown",
        "compiler": _compiler(),
        "compiled": "",
        "time_now": _ctime(now),
        "time_started": _ctime(rt.started),
        "uptime_secs": up,
        "utime_days": f"{up // 86400}d {(up % 86400) // 3600}h {(up % 3600) // 60}m {up % 60}s",
    }


# ---------------------------------------------------------------------- processes
def process_entries() -> list[tuple[int, int, int, str]]:
    """(slot, pid, rank, description) of every live process, by slot."""
    table = rt.proctable
    if table is None:
        return []
    return sorted((e for e in table.entries() if e[1]), key=lambda e: e[0])


def core_ps(_rpc, _params):
    out: list = []
    for _slot, pid, _rank, desc in process_entries():
        out += [pid, desc]
    return out


def core_psx(_rpc, _params):
    return [{"IDX": slot, "PID": pid, "DSC": desc} for slot, pid, _rank, desc in process_entries()]


def core_psa(_rpc, _params):
    # kamapy keeps no per-process status word; Kamailio's is 0 for most processes too
    return [{"index": slot, "pid": pid, "status": 0, "rank": rank, "description": desc}
            for slot, pid, rank, desc in process_entries()]


def core_pwd(_rpc, _params):
    try:
        return [os.getcwd()]
    except OSError:
        raise RpcError(500, "getcwd Failed") from None


def core_arg(_rpc, _params):
    return list(sys.argv)


def _master_pid() -> int:
    for slot, pid, _rank, _desc in process_entries():
        if slot == 0:
            return pid
    return os.getpid() if rt.rank == 0 else os.getppid()


def core_kill(rpc, params):
    """Signal the server (Kamailio signals its whole process group; kamapy signals
    the master, which stops or supervises the children)."""
    signo = opt_int(params, 0)
    if signo is None:
        signo = signal.SIGTERM
    master = _master_pid()
    # send after the reply is out: a SIGTERM stops this process too
    rpc.defer(lambda: os.kill(master, signo))
    return None


# ---------------------------------------------------------------------- memory
_UNITS = {"b": 0, "k": 10, "m": 20, "g": 30}


def core_shmmem(_rpc, params):
    shift = 0
    unit = opt_str(params, 0, convert=False)
    if unit:
        shift = _UNITS.get(unit[0].lower(), -1)
        if shift < 0 or (len(unit) > 1 and unit[1:].lower() != "b"):
            raise RpcError(500, "bad param, (use b|k|m|g)")
    info = shm_info()
    if info is None:
        raise RpcError(500, "shared memory is not initialised")
    return {
        "total": info["total"] >> shift,
        "free": info["free"] >> shift,
        "used": info["used"] >> shift,
        "real_used": info["real_used"] >> shift,
        "max_used": info["max_used"] >> shift,
        "fragments": info["fragments"],
    }


# ---------------------------------------------------------------------- sockets
def _proto_name(proto: int) -> str:
    from ..sip.msg import PROTO_NAMES
    return PROTO_NAMES.get(proto, "*") if proto else "*"


def core_aliases_list(_rpc, _params):
    aliases = []
    # newest first, the order of Kamailio's alias list
    for host, port, proto in reversed(rt.aliases):
        aliases.append({"alias": {"proto": _proto_name(proto), "address": host,
                                  "port": port if port else "*"}})
    return {"myself_callbacks": "no", "aliases": aliases}


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def core_sockets_list(_rpc, _params):
    out = []
    for si in rt.sockets:
        entry = {"proto": si.proto_name}
        written = (si.host or "").strip("[]")
        if written and written != si.address:
            # listen= named a host: Kamailio shows the name and the resolved address
            entry["address"] = si.host
            entry["ipaddress"] = _bracketed(si.address)
        else:
            entry["address"] = _bracketed(si.address)
        entry.update({"port": str(si.port), "mcast": "no", "mhomed": "no", "virtual": "no"})
        out.append({"socket": entry})
    return out


def core_modules(_rpc, _params):
    from ..loader import registry
    return [name for name in reversed(registry.order) if name != "core"]


def core_ppdefines(_rpc, _params):
    defines = getattr(rt, "defines", None) or {}
    return list(defines)


CORE_COMMANDS = [
    RpcCommand("system.listMethods", system_list_methods, "Lists all RPC methods supported by the server."),
    RpcCommand("system.methodSignature", system_method_signature, "Returns signature of given method."),
    RpcCommand("system.methodHelp", system_method_help, "Print the help string for given method."),
    RpcCommand("core.prints", core_prints, "Returns the strings given as parameters."),
    RpcCommand("core.printi", core_printi, "Returns the integers given as parameters."),
    RpcCommand("core.echo", core_echo, "Returns back its parameters."),
    RpcCommand("core.version", core_version, "Returns the version string of the server."),
    RpcCommand("core.flags", core_flags, "Returns the compile flags."),
    RpcCommand("core.info", core_info,
               "Verbose info, including version number, compile flags, compiler,"
               "repository hash a.s.o."),
    RpcCommand("core.runinfo", core_runinfo, "Runtime info - binary name, version, uptime, ..."),
    RpcCommand("core.uptime", core_uptime, "Returns uptime of SIP server."),
    RpcCommand("core.ps", core_ps, "Returns the description of running processes."),
    RpcCommand("core.psx", core_psx, "Returns the detailed description of running processes."),
    RpcCommand("core.psa", core_psa, "Return all the attributes of running processes."),
    RpcCommand("core.pwd", core_pwd, "Returns the working directory of server."),
    RpcCommand("core.arg", core_arg, "Returns the list of command line arguments used on startup."),
    RpcCommand("core.kill", core_kill, "Sends the given signal to server."),
    RpcCommand("core.shmmem", core_shmmem,
               "Returns shared memory info. It has an optional parameter that specifies the "
               "measuring unit: b - bytes (default), k or kb, m or mb, g or gb. Note: when "
               "using something different from bytes, the value is truncated."),
    RpcCommand("core.aliases_list", core_aliases_list, "List local SIP server host aliases"),
    RpcCommand("core.sockets_list", core_sockets_list, "List local SIP server listen sockets"),
    RpcCommand("core.modules", core_modules, "List loaded modules"),
    RpcCommand("core.ppdefines", core_ppdefines, "List preprocessor defines"),
]
