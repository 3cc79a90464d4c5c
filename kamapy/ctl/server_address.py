"""Where the server's jsonrpcs listens: from the command line, or read from its config
file (the jsonrpcs modparams and rundir), or the defaults.

Order: --url, --socket, --fifo when given; else each transport the config enables
(datagram first: it needs no reply FIFO); else the default socket, then the default
FIFO in /run/kamapy.
"""

from __future__ import annotations

import os
import re

from . import clients

DEFAULT_RUN_DIR = "/run/kamapy"
DEFAULT_FIFO = "kamapy_rpc.fifo"
DEFAULT_SOCKET = "kamapy_rpc.sock"
DEFAULT_TRANSPORT = 6     # jsonrpcs' default: fifo + datagram

_MODPARAM = re.compile(r'modparam\s*\(\s*"jsonrpcs"\s*,\s*"(\w+)"\s*,\s*(?:"([^"]*)"|(-?\d+))\s*\)')
_RUNDIR = re.compile(r'^\s*(?:rundir|run_dir)\s*=\s*"([^"]*)"', re.MULTILINE)


def _settings_from_text(text: str) -> tuple[dict, str | None]:
    """A fallback for a config the parser rejects: the plain modparam lines."""
    params = {}
    for m in _MODPARAM.finditer(text):
        params[m.group(1)] = m.group(2) if m.group(2) is not None else int(m.group(3))
    rundir = _RUNDIR.search(text)
    return params, (rundir.group(1) if rundir else None)


def jsonrpcs_settings(cfg_path: str) -> tuple[dict, str | None, bool]:
    """(jsonrpcs modparams, rundir, whether jsonrpcs is loaded) of a config file."""
    try:
        from ..cfg import apply_core_params, parse_config
        ast = parse_config(cfg_path, {})
        loaded = any(os.path.basename(m.path).removesuffix(".so") == "jsonrpcs" for m in ast.loadmodules)
        params = {}
        for mp in ast.modparams:
            if re.fullmatch(f"(?:{mp.modules})", "jsonrpcs", re.IGNORECASE):
                params[mp.name] = getattr(mp.value, "value", mp.value)
        rundir = getattr(apply_core_params(ast), "rundir", None)
        return params, rundir, loaded
    except Exception:  # any config problem: fall back to reading the lines
        try:
            with open(cfg_path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as e:
            raise clients.CtlError(f"cannot read config file {cfg_path}: {e.strerror}") from None
        params, rundir = _settings_from_text(text)
        return params, rundir, bool(re.search(r'loadmodule\s+"[^"]*jsonrpcs(\.so)?"', text))


def _in_rundir(name: str, rundir: str | None) -> str:
    return name if os.path.isabs(name) or name.startswith("udp:") else os.path.join(rundir or DEFAULT_RUN_DIR, name)


def candidates_from_config(cfg_path: str) -> list[tuple[str, str]]:
    params, rundir, loaded = jsonrpcs_settings(cfg_path)
    if not loaded:
        raise clients.CtlError(f"{cfg_path} does not load the jsonrpcs module: kamapyctl has no way in")
    transport = int(params.get("transport", DEFAULT_TRANSPORT))
    out = []
    sock = params.get("dgram_socket", DEFAULT_SOCKET)
    if sock and (transport == 0 or transport & 4):
        out.append(("socket", _in_rundir(str(sock), rundir)))
    fifo = params.get("fifo_name", DEFAULT_FIFO)
    if fifo and (transport == 0 or transport & 2):
        out.append(("fifo", _in_rundir(str(fifo), rundir)))
    if not out:
        raise clients.CtlError(f"{cfg_path}: jsonrpcs has neither a FIFO nor a datagram socket enabled")
    return out


def default_candidates() -> list[tuple[str, str]]:
    return [("socket", os.path.join(DEFAULT_RUN_DIR, DEFAULT_SOCKET)),
            ("fifo", os.path.join(DEFAULT_RUN_DIR, DEFAULT_FIFO))]


def choose(url=None, socket_path=None, fifo=None, cfg_path=None) -> tuple[str, str]:
    """(kind, address) of the server to talk to."""
    if url:
        return "url", url
    if socket_path:
        return "socket", socket_path
    if fifo:
        return "fifo", fifo
    found = candidates_from_config(cfg_path) if cfg_path else default_candidates()
    for kind, address in found:
        if kind == "url" or address.startswith("udp:") or os.path.exists(address):
            return kind, address
    return found[0]   # nothing there: the client's error names the first place looked at
