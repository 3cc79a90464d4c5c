"""Asking a DNS server (Kamailio: resolve.c over libresolv), with dnspython for the
wire format and the exchanges.

Servers, search list, ndots, timeout and attempts come from resolv.conf
(KAMAPY_RESOLV_CONF, default /etc/resolv.conf). A `nameserver` line may carry a port,
`nameserver 127.0.0.9:5353` or `nameserver [::1]:5353` (a kamapy extension: glibc has
no way to say it, and test servers do not run on port 53). dns_retr_time,
dns_retr_no and dns_servers_no override timeout:, attempts: and the number of
servers, as Kamailio's do.

Every query has a deadline: at most retr_no x servers x retr_time seconds, and the
caller may pass an earlier one (a whole RFC 3263 resolution shares one budget). A
reply with a wrong id or question, an unparsable one, or one from another address
is logged and dropped, and the wait goes on until the deadline; a truncated reply
(TC) is asked again over TCP within the same deadline.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from ..net.hostport import split_host_port

log = logging.getLogger("kamapy.dns")

RESOLV_CONF_ENV = "KAMAPY_RESOLV_CONF"

# results besides the server's rcodes
TIMEOUT = "TIMEOUT"
NOSERVER = "NOSERVER"
NOERROR, NXDOMAIN, SERVFAIL, REFUSED = "NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"

MAX_CNAME = 8


def resolv_conf_path() -> str:
    return os.environ.get(RESOLV_CONF_ENV) or "/etc/resolv.conf"


@dataclass
class ResolvConf:
    servers: list = field(default_factory=list)   # [(ip, port)]
    search: list = field(default_factory=list)
    ndots: int = 1
    timeout: float = 5.0
    attempts: int = 2
    rotate: bool = False


def _server(text: str):
    host, port = split_host_port(text.strip())
    if host.startswith("["):
        host = host[1:-1]
    elif port is None:
        host = host.split("%", 1)[0]  # a bare IPv6 address's zone
    if port is None:
        port = 53
    import ipaddress
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(port)
    return host, port


def parse_resolv_conf(text: str) -> ResolvConf:
    rc = ResolvConf()
    for line in text.splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        key, args = words[0], words[1:]
        if key == "nameserver" and args:
            try:
                rc.servers.append(_server(args[0]))
            except ValueError:
                log.warning("resolv.conf: bad nameserver %r ignored", args[0])
        elif key in ("search", "domain") and args:
            rc.search = [a.rstrip(".").lower() for a in args]  # the last of them wins, as glibc
        elif key == "options":
            for opt in args:
                name, _, val = opt.partition(":")
                try:
                    if name == "ndots":
                        rc.ndots = max(0, min(15, int(val)))
                    elif name == "timeout":
                        rc.timeout = max(1, min(30, int(val)))
                    elif name == "attempts":
                        rc.attempts = max(1, min(5, int(val)))
                    elif name == "rotate":
                        rc.rotate = True
                except ValueError:
                    log.warning("resolv.conf: bad option %r ignored", opt)
    if not rc.servers:
        rc.servers = [("127.0.0.1", 53)]  # glibc's default too
    return rc


@dataclass
class Answer:
    """One question's outcome. records: per type, A/AAAA [ip], SRV [[prio, weight,
    port, target]], NAPTR [[order, pref, flags, services, regexp, replacement]],
    PTR/CNAME [name]; extra: {(name, type): (records, ttl)} from the additional
    section (addresses of SRV targets)."""

    name: str
    rtype: str
    rcode: str
    records: list = field(default_factory=list)
    ttl: int = 0
    extra: dict = field(default_factory=dict)
    server: str = ""

    @property
    def ok(self) -> bool:
        return self.rcode == NOERROR and bool(self.records)


def _text(b) -> str:
    return b.decode("latin-1") if isinstance(b, bytes) else str(b)


def _name(n) -> str:
    return n.to_text(omit_final_dot=True).lower()


def _rdata(rtype: str, rd):
    if rtype in ("A", "AAAA"):
        return rd.address
    if rtype == "SRV":
        return [rd.priority, rd.weight, rd.port, _name(rd.target)]
    if rtype == "NAPTR":
        return [rd.order, rd.preference, _text(rd.flags), _text(rd.service), _text(rd.regexp),
                _name(rd.replacement)]
    if rtype in ("PTR", "CNAME"):
        return _name(rd.target)
    return rd.to_text()


def extract(msg, qname: str, rtype: str) -> tuple[list, int]:
    """(records, ttl) of rtype for qname in an answer section, following CNAMEs."""
    rdt = dns.rdatatype.from_text(rtype)
    name = dns.name.from_text(qname)
    ttl = None
    for _ in range(MAX_CNAME):
        rrset = None
        cname = None
        for rr in msg.answer:
            if rr.name != name or rr.rdclass != dns.rdataclass.IN:
                continue
            if rr.rdtype == rdt:
                rrset = rr
            elif rr.rdtype == dns.rdatatype.CNAME:
                cname = rr
        if rrset is not None:
            ttl = rrset.ttl if ttl is None else min(ttl, rrset.ttl)
            return [_rdata(rtype, rd) for rd in rrset], ttl
        if cname is None:
            break
        ttl = cname.ttl if ttl is None else min(ttl, cname.ttl)
        name = cname[0].target
    return [], ttl or 0


class Resolver:
    def __init__(self, settings, conf: ResolvConf | None = None, path: str | None = None):
        self.settings = settings
        self.path = path or resolv_conf_path()
        if conf is None:
            try:
                with open(self.path, encoding="utf-8", errors="replace") as f:
                    conf = parse_resolv_conf(f.read())
            except OSError as e:
                log.warning("cannot read %s (%s): asking 127.0.0.1:53", self.path, e.strerror)
                conf = parse_resolv_conf("")
        self.conf = conf
        n = settings.servers_no
        self.servers = list(conf.servers if n is None or n < 0 else conf.servers[:max(1, n)])
        self.timeout = float(settings.retr_time if settings.retr_time and settings.retr_time > 0
                             else conf.timeout)
        self.tries = int(settings.retr_no if settings.retr_no and settings.retr_no > 0
                         else conf.attempts)
        self._next = 0  # options rotate

    @property
    def max_wait(self) -> float:
        """The longest one query may take: every try of every server timing out."""
        return self.timeout * self.tries * max(1, len(self.servers))

    def candidates(self, name: str) -> list[str]:
        """The names to ask for `name` (dns_use_search_list, ndots, as res_search)."""
        name = name.lower()
        if name.endswith("."):
            return [name.rstrip(".")]
        if not self.settings.use_search_list or not self.conf.search:
            return [name]
        searched = [f"{name}.{d}" for d in self.conf.search]
        if name.count(".") >= self.conf.ndots:
            return [name] + searched
        return searched + [name]

    def query(self, qname: str, rtype: str, deadline: float | None = None) -> Answer:
        """Ask the servers in turn until one answers or the deadline passes."""
        now = time.monotonic()
        end = now + self.max_wait
        if deadline is not None:
            end = min(end, deadline)
        q = dns.message.make_query(qname, rtype)
        q.flags |= dns.flags.RD
        servers = self.servers
        if self.conf.rotate and len(servers) > 1:
            k = self._next % len(servers)
            self._next += 1
            servers = servers[k:] + servers[:k]
        last = Answer(qname, rtype, NOSERVER if not servers else TIMEOUT)
        for _attempt in range(self.tries):
            for ip, port in servers:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return self._gave_up(last, qname, rtype, now)
                where = f"{ip}:{port}"
                try:
                    r = self._exchange(q, ip, port, min(self.timeout, remaining))
                except dns.exception.Timeout:
                    log.warning("DNS: no answer from %s for %s %s within %.1fs", where, qname, rtype,
                                min(self.timeout, remaining))
                    continue
                except OSError as e:
                    log.warning("DNS: cannot ask %s for %s %s: %s", where, qname, rtype, e)
                    continue
                rc = dns.rcode.to_text(r.rcode())
                ans = Answer(qname, rtype, rc, server=where)
                if rc == NOERROR:
                    ans.records, ans.ttl = extract(r, qname, rtype)
                    ans.extra = self._additional(r)
                    if not ans.records:
                        ans.ttl = _soa_ttl(r)
                    return ans
                if rc == NXDOMAIN:
                    ans.ttl = _soa_ttl(r)
                    return ans
                # SERVFAIL, REFUSED...: the next server may know (glibc does the same)
                log.info("DNS: %s answered %s for %s %s", where, rc, qname, rtype)
                last = ans
        return self._gave_up(last, qname, rtype, now)

    def _gave_up(self, last: Answer, qname: str, rtype: str, started: float) -> Answer:
        if last.rcode in (TIMEOUT, NOSERVER):
            log.error("DNS: no server answered %s %s (%.1fs spent; servers %s)", qname, rtype,
                      time.monotonic() - started, ", ".join(f"{i}:{p}" for i, p in self.servers))
        return last

    @staticmethod
    def _additional(r) -> dict:
        extra = {}
        for rr in r.additional:
            if rr.rdclass == dns.rdataclass.IN and rr.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                t = dns.rdatatype.to_text(rr.rdtype)
                extra[(_name(rr.name), t)] = ([rd.address for rd in rr], rr.ttl)
        return extra

    def _exchange(self, q, ip: str, port: int, timeout: float):
        """One UDP exchange (TCP when the answer is truncated); raises Timeout."""
        expiration = time.time() + timeout
        af = socket.AF_INET6 if ":" in ip else socket.AF_INET
        with socket.socket(af, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            dns.query.send_udp(s, q.to_wire(), (ip, port), expiration)
            while True:
                try:
                    r, _ = dns.query.receive_udp(s, (ip, port), expiration, ignore_unexpected=True,
                                                  query=q, raise_on_truncation=True,
                                                  ignore_errors=False)
                    if not q.is_response(r):  # dnspython leaves this check to us here
                        raise dns.query.BadResponse
                    return r
                except dns.message.Truncated:
                    log.info("DNS: truncated answer from %s:%d for %s: asking over TCP", ip, port,
                             q.question[0].name)
                    left = expiration - time.time()
                    if left <= 0:
                        raise dns.exception.Timeout from None
                    return dns.query.tcp(q, ip, timeout=left, port=port)
                except dns.query.BadResponse:
                    log.warning("DNS: dropped an answer from %s:%d that does not match the query"
                                " (wrong id or question)", ip, port)
                except dns.exception.FormError as e:
                    log.warning("DNS: dropped a malformed answer from %s:%d: %s", ip, port, e)
                except dns.exception.Timeout:
                    raise
                except dns.exception.DNSException as e:
                    log.warning("DNS: dropped a bad answer from %s:%d: %s", ip, port, e)


def _soa_ttl(r) -> int:
    """The negative-caching TTL a server gave (RFC 2308: the SOA's minimum, capped by
    its TTL); 0 when the answer carries no SOA."""
    for rr in r.authority:
        if rr.rdtype == dns.rdatatype.SOA:
            return min(rr.ttl, rr[0].minimum)
    return 0
