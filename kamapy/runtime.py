"""The state of this server process that every part reads (Kamailio keeps it in globals).

Set up by the master before it forks; children inherit it and set their own rank.
"""

from __future__ import annotations

import time

from .net.socket_info import DEFAULT_PORT, SocketInfo, strip_brackets


class Runtime:
    def __init__(self):
        self.core = None                 # kamapy.cfg.core_params.CoreParams
        self.cfg_file = ""
        self.sockets: list[SocketInfo] = []
        self.routes = None               # kamapy.cfg compiled Routes
        self.rank = 0                    # 0 master, >0 SIP workers, <0 special processes
        self.started = time.time()
        self.aliases: list[tuple[str, int, int]] = []  # (host lowercase, port or 0, proto or 0)
        self.reply_hooks = []            # callables(msg) -> True when a module consumed the reply
        self.pre_script_hooks = []       # callables(msg) -> True to stop before request_route (PRE_SCRIPT_CB)
        self.pre_script_methods = 0      # METHOD_* bits some pre_script_hook acts on (the loop's gate)
        self.post_script_hooks = []      # callables(msg) after request_route (POST_SCRIPT_CB)
        self.log_prefix = None           # log_prefix: a str or a compiled format f(msg) -> str
        self.server_header = "Server: kamapy"
        self.user_agent_header = "User-Agent: kamapy"
        self.proctable = None            # kamapy.mem.proctable.ProcTable in shm
        self.stopping = False

    # ------------------------------------------------------------------ sockets
    def add_alias(self, host: str, port: int = 0, proto: int = 0):
        self.aliases.append((strip_brackets(host).lower(), port, proto))

    def first_socket(self, proto: int, af: int | None = None) -> SocketInfo | None:
        for si in self.sockets:
            if si.proto == proto and (af is None or si.af == af):
                return si
        return None


rt = Runtime()


def is_myself(host: str, port: int = 0, proto: int = 0, any_port: bool = False) -> bool:
    """Kamailio's check_self(): is host[:port] one of our listen addresses or aliases?

    A port of 0 stands for the default SIP port (5060, 5061 for TLS), as Kamailio
    compares `uri == myself` with the URI's port or the default one. `any_port`: the
    port is not compared at all, as Kamailio's `src_ip == myself` / `dst_ip == myself`
    (check_self() with port 0: grep_sock_info() and grep_aliases() ignore it).
    """
    h = strip_brackets(host).lower()
    if any_port:
        port = 0
    elif not port:
        port = DEFAULT_PORT["tls"] if proto == 3 else DEFAULT_PORT["udp"]
    for si in rt.sockets:
        if (port and si.port != port) or (proto and si.proto != proto):
            continue
        if h == si.address or h == (si.host or "").lower() or (si.advertise_host and h == si.advertise_host.lower()):
            return True
        if si.name and h == si.name.lower():
            return True
    for ahost, aport, aproto in rt.aliases:
        if ahost == h and (aport == 0 or not port or aport == port) and (aproto == 0 or not proto or aproto == proto):
            return True
    for check in MYSELF_CHECKS:
        if check(h, port, proto):
            return True
    return False


# Kamailio's register_check_self_func(): modules add fn(host, port, proto) -> bool that
# is_myself() asks after the sockets and aliases (domain's register_myself)
MYSELF_CHECKS: list = []
