"""Locating a SIP server (RFC 3263 §4 as Kamailio 5.6 does it: dns_cache.c
dns_naptr_sip_resolve / dns_srv_sip_resolve, resolve.c naptr_sip_iterate).

For a next hop (transport, host, port, sips):
  1. an IP address: that address, the port or the transport's default;
  2. a port given: the host's addresses (A, then AAAA when allowed) on that port;
  3. a transport given: SRV _sip._<t> (_sips._tcp for TLS); its targets in priority
     and weight order (srv.py); no SRV: the host's addresses on the default port;
  4. neither: with dns_try_naptr, the host's NAPTR records with SIP services
     (SIP+D2U, SIP+D2T, SIPS+D2T, SIP+D2S; only SIPS+D2T for sips:) whose transport
     kamapy can send over, ranked by dns_<proto>_pref first when
     dns_naptr_ignore_rfc=1 (Kamailio's default), else by order and preference;
     each one's SRV in turn. Without NAPTR (or none usable): SRV for the transports
     in dns_<proto>_pref order, then the host's addresses on 5060/5061.

The result is every address in try order (what DNS failover walks); the first is
where the request goes. One deadline covers the whole walk.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from . import resolver as rv
from . import srv as srvmod

log = logging.getLogger("kamapy.dns")

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "sctp": 5060, "tls": 5061, "ws": 80, "wss": 443}
SRV_PREFIX = {"udp": "_sip._udp.", "tcp": "_sip._tcp.", "tls": "_sips._tcp.", "sctp": "_sip._sctp."}
NAPTR_SERVICES = {"sip+d2u": "udp", "sip+d2t": "tcp", "sips+d2t": "tls", "sip+d2s": "sctp"}
MAX_TARGETS = 32


@dataclass(frozen=True)
class Target:
    proto: str      # udp, tcp, tls, sctp
    ip: str
    port: int
    host: str = ""  # the name the address came from (SRV target or the host itself)

    @property
    def af(self) -> int:
        return socket.AF_INET6 if ":" in self.ip else socket.AF_INET


@dataclass
class Resolution:
    targets: list
    rcode: str = rv.NOERROR    # why there are none: NXDOMAIN, NODATA, SERVFAIL, TIMEOUT...
    how: str = ""              # "ip", "a", "srv", "naptr" (logs, tests)


_ip_seen: dict[str, str] = {}  # host text -> canonical address, "" for a name


def ip_literal(host: str) -> str | None:
    """The address when host is an IP literal (brackets allowed), else None. Memoised:
    this runs for every request relayed, and most next hops are addresses."""
    hit = _ip_seen.get(host)
    if hit is not None:
        return hit or None
    h = host[1:-1] if host[:1] == "[" else host
    try:
        out = socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, h))
    except OSError:
        try:
            out = socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, h.split("%", 1)[0]))
        except (OSError, ValueError):
            out = ""
    if len(_ip_seen) > 4096:  # a flood of distinct hosts must not grow it forever
        _ip_seen.clear()
    _ip_seen[host] = out
    return out or None


class Locator:
    def __init__(self, settings, lookups, supported=None, draw=None):
        self.settings = settings
        self.lookups = lookups
        self.supported = supported or (lambda proto: proto == "udp")
        self.draw = draw

    def locate(self, proto: str | None, host: str, port: int | None, secure: bool = False,
               deadline: float | None = None) -> Resolution:
        """Every address to try for a next hop. proto None: none given in the URI;
        port None/0: none given."""
        ip = ip_literal(host)
        if ip is not None:
            p = proto or ("tls" if secure else "udp")
            return Resolution([Target(p, ip, port or DEFAULT_PORTS.get(p, 5060), ip)], how="ip")
        name = host.lower().rstrip(".")
        if deadline is None:
            deadline = self.lookups.deadline()
        if port:
            p = proto or ("tls" if secure else "udp")
            return self._hosts(p, name, port, deadline, "a")
        # a server that does not answer is not a reason to stop: the deadline bounds
        # the rest, and the hosts file may still know the name
        if proto:
            res = self._srv(proto, name, deadline)
            if res.targets:
                return res
            return self._fallback(proto, name, deadline, res)
        last = None
        if self.settings.try_naptr:
            last = self._naptr(name, secure, deadline)
            if last.targets:
                return last
        for p in (["tls"] if secure else self._srv_protos()):
            res = self._srv(p, name, deadline)
            if res.targets:
                return res
            if last is None or last.rcode not in (rv.TIMEOUT, rv.NOSERVER):
                last = res
        return self._fallback("tls" if secure else "udp", name, deadline, last)

    def _fallback(self, proto: str, name: str, deadline, before) -> Resolution:
        """The host's own addresses on the default port (no usable SRV)."""
        res = self._hosts(proto, name, DEFAULT_PORTS.get(proto, 5060), deadline, "a")
        if not res.targets and before is not None and before.rcode in (rv.TIMEOUT, rv.NOSERVER, rv.SERVFAIL):
            res.rcode = before.rcode  # say why: the server failed, not "no such name"
        return res

    # -- the steps -------------------------------------------------------------
    def _srv_protos(self) -> list[str]:
        pref = self.settings.proto_pref
        protos = [p for p in ("udp", "tcp", "sctp", "tls") if pref.get(p, 0) >= 0 and self.supported(p)]
        protos.sort(key=lambda p: -pref.get(p, 0))  # stable: udp before tcp on a tie
        return protos or ["udp"]

    def _hosts(self, proto: str, name: str, port: int, deadline, how: str) -> Resolution:
        ips, rcode = self.lookups.addresses(name, deadline)
        return Resolution([Target(proto, ip, port, name) for ip in ips], rcode, how)

    def _srv(self, proto: str, name: str, deadline, how: str = "srv") -> Resolution:
        prefix = SRV_PREFIX.get(proto)
        if prefix is None:  # ws/wss have no SRV
            return Resolution([], "NODATA", how)
        return self._srv_name(proto, prefix + name, deadline, how)

    def _srv_name(self, proto: str, srvname: str, deadline, how: str) -> Resolution:
        r = self.lookups.records("SRV", srvname, deadline)
        if not r.ok:
            return Resolution([], r.rcode, how)
        targets = []
        rcode = rv.NOERROR
        # Kamailio weighs only through the failover handle: dns_srv_lb needs use_dns_failover
        lb = bool(self.settings.srv_lb and self.settings.use_failover)
        for _prio, _w, port, target in srvmod.order(r.records, lb, self.draw):
            if target in ("", "."):
                continue  # "service not available here" (RFC 2782)
            ips, rc = self.lookups.addresses(target, deadline)
            if not ips:
                rcode = rc
                continue
            for ip in ips:
                t = Target(proto, ip, int(port), target)
                if t not in targets:
                    targets.append(t)
            if len(targets) >= MAX_TARGETS:
                break
        return Resolution(targets, rv.NOERROR if targets else rcode, how)

    def naptr_choices(self, records, secure: bool) -> list[tuple[str, str]]:
        """[(proto, replacement)] of the usable SIP NAPTR records, best first."""
        pref = self.settings.proto_pref
        usable = []
        for i, (order, npref, flags, services, _regexp, repl) in enumerate(records):
            if flags.lower() != "s" or not repl or repl == ".":
                continue
            proto = NAPTR_SERVICES.get(services.lower())
            if proto is None or (secure and proto != "tls"):
                continue
            if pref.get(proto, 0) < 0 or not self.supported(proto):
                continue
            score = pref.get(proto, 0) if self.settings.naptr_ignore_rfc else 1
            usable.append((-score, int(order), int(npref), i, proto, repl))
        usable.sort()
        return [(u[4], u[5]) for u in usable]

    def _naptr(self, name: str, secure: bool, deadline) -> Resolution:
        r = self.lookups.records("NAPTR", name, deadline)
        if not r.ok:
            return Resolution([], r.rcode, "naptr")
        targets = []
        rcode = "NODATA"
        for proto, repl in self.naptr_choices(r.records, secure):
            res = self._srv_name(proto, repl, deadline, "naptr")
            for t in res.targets:
                if t not in targets:
                    targets.append(t)
            if not res.targets:
                rcode = res.rcode
                if rcode in (rv.TIMEOUT, rv.NOSERVER):
                    break
        return Resolution(targets, rv.NOERROR if targets else rcode, "naptr")
