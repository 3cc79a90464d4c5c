"""One `listen=` (or `alias=`) entry as the config or `-l` gives it, before it is bound
(Kamailio's struct socket_id, ip_addr.h); kamapy.net.socket_info.SocketInfo is the bound
socket made from it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ListenSpec:
    """One `listen` (or `alias`) entry. proto is None for 'any', port None for default;
    a host in parentheses lists several addresses of one multihomed socket (hosts)."""

    proto: str | None
    host: str
    port: int | None
    advertise_host: str | None = None
    advertise_port: int | None = None
    name: str | None = None
    virtual: bool = False
    hosts: tuple[str, ...] = ()

    def __str__(self):
        s = f"{self.proto}:{self.host}" if self.proto else self.host
        return f"{s}:{self.port}" if self.port else s
