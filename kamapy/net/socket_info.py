"""Listen sockets (Kamailio's socket_info): what `listen=` binds and what Via/Record-Route
advertise for it."""

from __future__ import annotations

import ipaddress
import socket

from ..sip.msg import PROTO_IDS, PROTO_NAMES, PROTO_TCP, PROTO_TLS, PROTO_UDP

DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "tls": 5061, "sctp": 5060, "ws": 80, "wss": 443}
UDP_RCVBUF = 4 * 1024 * 1024  # like Kamailio's probing of the largest receive buffer


def strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def resolve_address(host: str) -> tuple[str, int]:
    """An IP literal or a name from a `listen=` line -> (ip, address family)."""
    h = strip_brackets(host)
    try:
        ip = ipaddress.ip_address(h)
        return str(ip), socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    except ValueError:
        pass
    info = socket.getaddrinfo(h, None, 0, socket.SOCK_DGRAM)
    family, _, _, _, sockaddr = info[0]
    return sockaddr[0], family


class SocketInfo:
    """One listen socket. `sock` is the bound Python socket (None until bind())."""

    __slots__ = ("proto", "proto_name", "host", "address", "port", "af", "name",
                 "advertise_host", "advertise_port", "sock")

    def __init__(self, proto: str, host: str, port: int | None = None,
                 advertise_host: str | None = None, advertise_port: int | None = None,
                 name: str | None = None):
        self.proto_name = proto.lower()
        self.proto = PROTO_IDS[self.proto_name]
        self.host = host
        self.address, self.af = resolve_address(host)
        self.port = port or DEFAULT_PORT[self.proto_name]
        self.advertise_host = advertise_host
        self.advertise_port = advertise_port
        self.name = name
        self.sock = None

    @property
    def via_host(self) -> str:
        """What goes into Via / Record-Route: the advertised address if set."""
        host = self.advertise_host or self.address
        if ":" in host and not host.startswith("["):
            return f"[{host}]"
        return host

    @property
    def via_port(self) -> int:
        return self.advertise_port or self.port

    def __str__(self):
        addr = f"[{self.address}]" if self.af == socket.AF_INET6 else self.address
        return f"{self.proto_name}:{addr}:{self.port}"

    def bind(self):
        if self.proto in (PROTO_TCP, PROTO_TLS):
            return self._bind_stream()
        if self.proto != PROTO_UDP:
            raise NotImplementedError(f"{self.proto_name} listeners are not supported yet")
        s = socket.socket(self.af, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RCVBUF)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, UDP_RCVBUF)
        except OSError:
            pass
        s.bind((self.address, self.port))
        self.sock = s
        return s

    def _bind_stream(self):
        """A tcp/tls listener; tcp_main accepts on it (kamapy.net.tcp_main)."""
        from ..runtime import rt
        backlog = int(getattr(rt.core, "tcp_listen_backlog", None) or 1024)
        s = socket.socket(self.af, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if getattr(rt.core, "tcp_reuse_port", None):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if self.af == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s.bind((self.address, self.port))
            s.listen(backlog)
        except OSError:
            s.close()
            raise
        self.sock = s
        return s

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def proto_name(proto: int) -> str:
    return PROTO_NAMES.get(proto, "udp")


_rt = None  # kamapy.runtime.rt; bound on first use, since kamapy.runtime imports this module


def _bind_rt():
    global _rt
    from ..runtime import rt
    _rt = rt
    return rt


def socket_for(addr) -> SocketInfo | None:
    """The listen socket (SocketInfo) with local address (ip, port), or None."""
    rt = _rt or _bind_rt()
    if addr is None:
        return None
    ip, port = addr[0], addr[1]
    for si in rt.sockets:
        if si.port == port and si.address == ip:
            return si
    return None


def socket_of_spec(spec):
    """The listen socket a "[proto:]host:port" names (Kamailio's parse_phostport and
    grep_sock_info, for modules' socket parameters); a SocketInfo as it is; None for
    "" or an address that is not ours."""
    if spec is None or spec == "":
        return None
    if not isinstance(spec, str):
        return spec
    s = spec
    if ":" in s and s.split(":", 1)[0].lower() in ("udp", "tcp", "tls", "sctp", "ws", "wss"):
        s = s.split(":", 1)[1]
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    rt = _rt or _bind_rt()
    for si in rt.sockets:
        if si.address == host and str(si.port) == port:
            return si
    return None
