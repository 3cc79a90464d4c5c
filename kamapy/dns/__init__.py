"""DNS for next hops (Kamailio: resolve.c, dns_cache.c, dst_blocklist.c).

  settings.py   the core's dns_* / use_dns_* / dst_blocklist_* parameters
  resolver.py   asking a server (dnspython), resolv.conf, bounded waits
  hosts.py      /etc/hosts and nsswitch order
  cache.py      the DNS cache in shm (TTLs, negative entries, size)
  srv.py        SRV priority / weight order (dns_srv_lb)
  rfc3263.py    NAPTR -> SRV -> A/AAAA for a SIP next hop
  blocklist.py  the destination blocklist in shm
  rpc.py        dns.* and dst_blocklist.* RPC commands

init(core) runs in the master before the fork (the cache, the blocklist and the SRV
draw counter are in shm; the timer process collects their expired entries); a
process that never ran it (kamapy -c, unit tests) gets a private state without shm
on first use.
"""

from __future__ import annotations

import logging
import socket

from ..mem.local_table import LocalTable
from ..sip.msg import PROTO_IDS
from ..sip.next_hop import uri_hop
from . import blocklist as _blst
from . import resolver as rv
from .rfc3263 import Resolution, Target, ip_literal

log = logging.getLogger("kamapy.dns")

__all__ = ["Resolution", "Target", "init", "state", "locate", "locate_uri", "pick", "resolve_host"]


class DnsState:
    def __init__(self, settings, shared: bool):
        from .cache import DnsCache
        from .hosts import Hosts
        from .lookup import Lookups
        from .rfc3263 import Locator
        from .srv import Draws

        self.settings = settings
        self.resolver = rv.Resolver(settings)
        if shared:
            from ..mem.counters import CounterArray
            self.hosts = Hosts(generation=CounterArray(1))
        else:
            self.hosts = Hosts()
        self.cache = None
        self.blocklist = None
        counter = None
        self.alternates = None  # tm's DNS failover: the addresses left per branch
        if shared:
            from ..mem.counters import CounterArray
            from ..mem.htable import SharedHashTable
            self.cache = DnsCache(settings)
            self.blocklist = _blst.Blocklist(settings)
            counter = CounterArray(1)
            if settings.use_failover:
                self.alternates = SharedHashTable(10, name="dns failover")
        else:
            self.cache = _private_cache(settings)
            self.blocklist = _private_blocklist(settings)
            self.alternates = LocalTable()
        self.lookups = Lookups(settings, self.resolver, self.cache, self.hosts)
        self.locator = Locator(settings, self.lookups, supported=_supported, draw=Draws(counter))


_state: DnsState | None = None


def _supported(proto: str) -> bool:
    """A transport a NAPTR record may pick: one kamapy has a listen socket of."""
    from ..runtime import rt
    from ..sip.msg import PROTO_IDS
    pid = PROTO_IDS.get(proto)
    if pid is None:
        return False
    if not rt.sockets:
        return proto == "udp"
    return rt.first_socket(pid) is not None


class _LocalCounter:
    def __init__(self):
        self.v = 0

    def add(self, _i, delta=1):
        self.v += delta
        return self.v

    def get(self, _i):
        return self.v


def _private_cache(settings):
    from .cache import DnsCache
    return DnsCache(settings, table=LocalTable(), used=_LocalCounter())


def _private_blocklist(settings):
    return _blst.Blocklist(settings, table=LocalTable())


def init(core=None) -> DnsState:
    """In the master, after the listen sockets are made and before mod_init: the
    shared state, start-up warnings, GC timers, auto_aliases."""
    global _state
    from ..runtime import rt
    from . import settings as st

    core = core if core is not None else rt.core
    s = st.from_core(core)
    for line in st.warnings(core, s):
        log.warning("%s", line)
    _state = DnsState(s, shared=True)
    from ..timer import register_timer
    if s.use_cache:
        register_timer("dns cache gc", max(1, s.gc_interval), lambda now: _state.cache.gc(now))
    register_timer("dst blocklist gc", max(1, s.blocklist_gc_interval), lambda now: _state.blocklist.gc(now))
    if _state.alternates is not None:
        register_timer("dns failover gc", 30, lambda now: _state.alternates.expire(now))
    _add_auto_aliases(core)
    return _state


def reset():
    """Forget the state (tests)."""
    global _state
    _state = None


def state() -> DnsState:
    global _state
    if _state is None:
        from ..runtime import rt
        from . import settings as st
        _state = DnsState(st.from_core(rt.core), shared=False)
    return _state


def _add_auto_aliases(core):
    """auto_aliases (on by default): the names the hosts file gives our listen
    addresses count as ourselves, as Kamailio adds the reverse-resolved names. Alias
    names need nothing here: `myself` compares names as written."""
    from ..runtime import rt
    if not int(getattr(core, "auto_aliases", 1) or 0):
        return
    hosts = _state.hosts
    known = {a[0] for a in rt.aliases}
    for si in rt.sockets:
        for name in hosts.names_of(si.address):
            if name not in known:
                rt.add_alias(name, si.port, si.proto)
                known.add(name)


# ------------------------------------------------------------------ the API
def locate(proto: str | None, host: str, port: int | None, secure: bool = False) -> Resolution:
    """Every address for a next hop, in try order (proto/port None: not given)."""
    return state().locator.locate(proto, host, port, secure)


def locate_uri(uri) -> Resolution:
    """locate() for a parsed SIP URI ($du / R-URI / Route): maddr wins over the host,
    transport=tcp on a sips: URI is TLS. Raises SipParseError as uri_hop does."""
    proto, host, port = uri_hop(uri)  # validates the transport, gives maddr/brackets
    return locate(proto if uri.transport else None, host, uri.port, uri.secure)


def pick(res: Resolution) -> tuple[Target | None, list, int]:
    """(first target not blocklisted, the ones after it, blocklist flags of the
    last blocked one). The rest is what DNS failover tries next. Without
    use_dns_failover only the first address is a candidate: blocklisted, the send
    fails, as in Kamailio."""
    st_ = state()
    bl = st_.blocklist if st_.settings.use_blocklist else None
    blocked = 0
    targets = res.targets if st_.settings.use_failover else res.targets[:1]
    for i, t in enumerate(targets):
        flags = bl.is_blocked(PROTO_IDS.get(t.proto, 1), t.ip, t.port) if bl is not None else 0
        if flags:
            log.info("%s:%s:%d is blocklisted (flags %d): skipped", t.proto, t.ip, t.port, flags)
            blocked = flags
            continue
        return t, res.targets[i + 1:], 0
    return None, [], blocked


def resolve_host(host: str) -> tuple[str, int]:
    """host -> (ip, family), through the hosts file, the cache and DNS (A, then AAAA
    when allowed). Raises OSError when it does not resolve."""
    ip = ip_literal(host)
    if ip is not None:
        return ip, socket.AF_INET6 if ":" in ip else socket.AF_INET
    st_ = state()
    ips, rcode = st_.lookups.addresses(host.lower().rstrip("."), st_.lookups.deadline())
    if not ips:
        raise OSError(f"cannot resolve {host}: {rcode}")
    return ips[0], socket.AF_INET6 if ":" in ips[0] else socket.AF_INET


def blocklist_add(flags: int, proto: int, ip: str, port: int) -> bool:
    bl = state().blocklist
    return bl.add(flags, proto, ip, port) if bl is not None else False
