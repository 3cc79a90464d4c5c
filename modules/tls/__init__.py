"""tls: SIP over TLS on `listen=tls:` sockets (Kamailio's tls module), with Python's
ssl (OpenSSL) -- no crypto of our own.

Profiles come from Kamailio's tls.cfg format (modparam "config"; see profiles.py)
or, without one, from the module parameters (certificate, private_key, ca_list,
verify_certificate, require_certificate, tls_method, cipher_list, server_name),
which are also the defaults of every profile in the file.

Where handshakes run: in the TCP reader that owns the connection, non-blocking, in
its selector loop (kamapy.net.tcp_reader). The TLS session lives in that process'
memory for the connection's whole life, so nothing has to move it between
processes, and a slow or stalled handshake waits in the selector instead of
holding a SIP worker (Kamailio's async TLS question): the reader goes on reading
its other connections meanwhile, and tcp_connection_lifetime ends a handshake that
never finishes.

tls.reload re-reads the profile file: checked in the RPC's process first (a broken
file is refused and the running profiles stay), then every reader rebuilds its
contexts before its next new connection.
"""

from __future__ import annotations

import logging
import time

import msgpack

from kamapy.module import ANY_ROUTE, Function, ModuleExports, Param, RpcCommand
from kamapy.pv.base import fn_pv
from kamapy.pv.registry import PvDef

from . import peer
from .profiles import Profile, ProfileError, parse

log = logging.getLogger("kamapy.tls")

_state = {"profiles": None, "generation": 0, "counter": None, "info": None}


def _defaults() -> Profile:
    p = exports.param
    return Profile(
        method=str(p("tls_method") or "SSLv23"),
        certificate=str(p("certificate") or ""),
        private_key=str(p("private_key") or ""),
        ca_list=str(p("ca_list") or ""),
        crl=str(p("crl") or ""),
        verify_certificate=int(p("verify_certificate") or 0),
        verify_depth=int(p("verify_depth") if p("verify_depth") is not None else 9),
        require_certificate=int(p("require_certificate") or 0),
        cipher_list=str(p("cipher_list") or ""),
        server_name=str(p("server_name") or ""),
        where="modparam",
    )


def load_profiles() -> list[Profile]:
    """Parse and build every profile; ProfileError when anything is wrong."""
    base = _defaults()
    path = exports.param("config")
    if path:
        profiles = parse(str(path), base)
    else:
        profiles = []
    names = {p.name for p in profiles}
    if "server:default" not in names:
        profiles.append(Profile(**{**base.__dict__, "kind": "server", "address": "default",
                                   "context": None}))
    if "client:default" not in names:
        # Kamailio's default client domain: no verification unless the params say so
        profiles.append(Profile(**{**base.__dict__, "kind": "client", "address": "default",
                                   "context": None}))
    from kamapy.net import tcp_boot
    need_server = any(si.proto == 3 for si in tcp_boot.stream_listeners())
    for prof in profiles:
        if prof.kind == "server" and not prof.certificate and not need_server:
            continue  # no tls listen: a server profile without certificate is never used
        prof.build()
        if prof.verify_depth != 9:
            log.warning("tls: [%s] verify_depth=%d: Python's ssl cannot bound the chain depth; "
                        "OpenSSL's default applies", prof.name, prof.verify_depth)
    for prof in profiles:
        if prof.kind == "server" and prof.context is not None:
            _add_sni(prof, profiles)
    return profiles


def _add_sni(prof: Profile, profiles: list[Profile]):
    named = {p.server_name.lower(): p for p in profiles
             if p.kind == "server" and p.server_name and p.context is not None
             and p.address in ("any", prof.address) and p is not prof}
    if not named:
        return

    def pick(sslobj, name, _ctx):
        other = named.get((name or "").lower())
        if other is not None:
            sslobj.context = other.context
    prof.context.sni_callback = pick


def _profiles() -> list[Profile]:
    counter = _state["counter"]
    if counter is not None and counter.get(0) != _state["generation"]:
        gen = counter.get(0)
        try:
            _state["profiles"] = load_profiles()
            log.info("tls: profiles reloaded")
        except ProfileError as e:
            log.error("tls: reload failed, keeping the running profiles: %s", e)
        _state["generation"] = gen
    return _state["profiles"] or []


def _find(kind: str, ip: str, port: int) -> Profile | None:
    profiles = _profiles()
    key = f"{ip}:{port}"
    for p in profiles:
        if p.kind == kind and p.address == key and p.context is not None:
            return p
    for p in profiles:
        if p.kind == kind and p.address == "default" and p.context is not None:
            return p
    return None


class Provider:
    """What kamapy.net.tls_hooks asks (the TCP readers)."""

    def server_context(self, si, ip, port):
        p = _find("server", ip, port)
        return p.context if p is not None else None

    def client_context(self, si, ip, port):
        p = _find("client", ip, port)
        return p.context if p is not None else None

    def server_name(self, ip, port):
        p = _find("client", ip, port)
        return (p.server_name or None) if p is not None else None

    def handshake_done(self, conn):
        info = peer.describe(conn.sock)
        peer.remember(conn.conid, info)
        table = _state["info"]
        if table is not None:
            table.put(b"%d" % conn.conid, msgpack.packb([info.get("version"), info.get("cipher"),
                                                        time.time()]))

    def closed(self, conn):
        peer.forget(conn.conid)
        table = _state["info"]
        if table is not None:
            table.delete(b"%d" % conn.conid)


def _check_file(path):
    """modparam("tls", "config", ...): the file must read and parse (so `kamapy -c`
    refuses a broken one, with its line); certificates are loaded at start-up."""
    try:
        parse(str(path))
    except ProfileError as e:
        raise ValueError(str(e)) from None


def mod_init():
    from kamapy.loader import ModuleLoadError, Problem
    from kamapy.mem.counters import CounterArray
    from kamapy.mem.htable import SharedHashTable
    from kamapy.net import tls_hooks
    from kamapy.runtime import rt
    if not getattr(rt.core, "enable_tls", 0) or getattr(rt.core, "disable_tls", 0):
        log.warning("tls: tls support is disabled (set enable_tls=1 in the config to enable it)")
        return 0
    try:
        _state["profiles"] = load_profiles()
    except ProfileError as e:
        raise ModuleLoadError([Problem(f"tls: {e}")]) from None
    _state["counter"] = CounterArray(1)
    _state["info"] = SharedHashTable(10, name="tls connections")
    for name in ("connection_timeout", "session_cache", "renegotiation", "send_close_notify",
                 "ssl_release_buffers", "low_mem_threshold1", "low_mem_threshold2", "xavp_cfg",
                 "tls_force_run", "event_callback"):
        if exports.param(name) is not None:
            log.warning("tls: modparam %s is not implemented by kamapy; ignored", name)
    tls_hooks.provider = Provider()
    return 0


# ---------------------------------------------------------------------- functions
def is_peer_verified(msg) -> int:
    """1 when the message came over TLS and the peer's certificate was verified."""
    info = peer.of(msg)
    return 1 if info and info.get("verified") else -1


# ---------------------------------------------------------------------- RPC
def rpc_list(_rpc, _params):
    from kamapy.net import tcp_state
    st = tcp_state.state
    out = []
    table = _state["info"]
    if st is None:
        return out
    for conid, rec in sorted(st.all_records()):
        if rec[1] != 3:
            continue
        raw = table.get(b"%d" % conid) if table is not None else None
        version, cipher = (msgpack.unpackb(raw)[:2] if raw else (None, None))
        out.append({
            "id": conid, "timeout": 0, "src_ip": rec[2], "src_port": rec[3],
            "dst_ip": rec[4], "dst_port": rec[5],
            "cipher": f"{version} {cipher}" if version else "unknown",
            "ct_wq_size": 0, "enc_rd_buf": 0, "flags": "",
            "state": "established" if raw else "init",
        })
    return out


def rpc_info(_rpc, _params):
    from kamapy.net import tcp_state
    from kamapy.runtime import rt
    st = tcp_state.state
    return {
        "max_connections": int(getattr(rt.core, "tls_max_connections", 2048) or 2048),
        "opened_connections": st.counters.get(tcp_state.C_TLS) if st else 0,
        "clear_text_write_queued_bytes": 0,
    }


def rpc_options(_rpc, _params):
    out = {}
    for p in _state["profiles"] or []:
        out[p.name] = {"method": p.method, "verify_certificate": p.verify_certificate,
                       "require_certificate": p.require_certificate, "certificate": p.certificate,
                       "ca_list": p.ca_list, "server_name": p.server_name}
    return out


def rpc_reload(_rpc, _params):
    from kamapy.rpc.errors import RpcError
    try:
        load_profiles()   # refuse a broken file here, before any reader sees it
    except ProfileError as e:
        raise RpcError(500, f"Error while loading TLS configuration file: {e}") from None
    _state["counter"].add(0, 1)
    return "Ok. TLS configuration reloaded."


PVS = [PvDef(name, fn_pv(cls, getter)) for name, cls, getter in peer.PV_TABLE]

exports = ModuleExports(
    name="tls",
    params=[
        Param("config", str, None, validate=_check_file),
        Param("tls_method", str, None),
        Param("certificate", str, None),
        Param("private_key", str, None),
        Param("ca_list", str, None),
        Param("ca_path", str, None),
        Param("crl", str, None),
        Param("verify_certificate", int, None),
        Param("verify_depth", int, None),
        Param("require_certificate", int, None),
        Param("cipher_list", str, None),
        Param("server_name", str, None),
        Param("tls_log", int, 3),
        Param("tls_debug", int, 3),
        Param("connection_timeout", int, None),
        Param("session_cache", int, None),
        Param("renegotiation", int, None),
        Param("send_close_notify", int, None),
        Param("ssl_release_buffers", int, None),
        Param("low_mem_threshold1", int, None),
        Param("low_mem_threshold2", int, None),
        Param("xavp_cfg", str, None),
        Param("tls_force_run", int, None),
        Param("event_callback", str, None),
    ],
    functions=[Function("is_peer_verified", is_peer_verified, (), ANY_ROUTE)],
    rpc=[
        RpcCommand("tls.list", rpc_list, "List currently open TLS connections"),
        RpcCommand("tls.info", rpc_info, "Returns internal tls related info."),
        RpcCommand("tls.options", rpc_options, "Dumps all the tls config options."),
        RpcCommand("tls.reload", rpc_reload, "Reload TLS configuration file"),
    ],
    pvs=PVS,
    mod_init=mod_init,
    doc=__doc__,
)
