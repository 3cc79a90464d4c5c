"""The core's DNS parameters, read once from the config (Kamailio: cfg_core.c's
resolver, DNS cache and blocklist groups), with Kamailio's defaults where kamapy's
parameter table leaves a value unset (None).

Parameters kamapy takes but does not act on are warned about at start-up (warnings()),
never silently ignored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger("kamapy.dns")

# what dns_cache_max_ttl=-1 (Kamailio's (unsigned)-1) stands for
NO_MAX_TTL = 2 ** 31


def _int(core, name: str, default: int) -> int:
    v = getattr(core, name, None) if core is not None else None
    if v is None:
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


@dataclass
class DnsSettings:
    try_ipv6: int = 0
    prefer_ipv6: int = 0          # dns_cache_flags & 4 (DNS_IPV6_FIRST)
    ipv6_only: int = 0            # dns_cache_flags & 2
    try_naptr: int = 0
    naptr_ignore_rfc: int = 1
    proto_pref: dict = field(default_factory=lambda: {"udp": 30, "tcp": 20, "tls": 10, "sctp": 20})
    retr_time: int = -1           # seconds per try; -1: the resolver's (resolv.conf timeout:)
    retr_no: int = -1             # tries; -1: resolv.conf attempts:
    servers_no: int = -1          # how many of resolv.conf's servers; -1: all
    use_search_list: int = 1
    search_full_match: int = 1
    srv_lb: int = 0
    use_cache: int = 1
    negative_ttl: int = 60
    min_ttl: int = 0
    max_ttl: int = NO_MAX_TTL
    cache_mem_kb: int = 500
    gc_interval: int = 120
    del_nonexp: int = 0
    use_failover: int = 0
    use_blocklist: int = 0
    blocklist_expire: int = 60
    blocklist_mem_kb: int = 250
    blocklist_gc_interval: int = 60
    blocklist_imask: dict = field(default_factory=dict)
    rev_dns: int = 0
    dns: int = 0
    slow_query_ms: int = 0


# the settings that are one core parameter each: (DnsSettings field, core parameter,
# Kamailio's default)
_PLAIN = (
    ("try_naptr", "dns_try_naptr", 0),
    ("naptr_ignore_rfc", "dns_naptr_ignore_rfc", 1),
    ("retr_time", "dns_retr_time", -1),
    ("retr_no", "dns_retr_no", -1),
    ("servers_no", "dns_servers_no", -1),
    ("use_search_list", "dns_use_search_list", 1),
    ("search_full_match", "dns_search_full_match", 1),
    ("srv_lb", "dns_srv_lb", 0),
    ("use_cache", "use_dns_cache", 1),
    ("negative_ttl", "dns_cache_negative_ttl", 60),
    ("min_ttl", "dns_cache_min_ttl", 0),
    ("max_ttl", "dns_cache_max_ttl", -1),
    ("cache_mem_kb", "dns_cache_mem", 500),
    ("gc_interval", "dns_cache_gc_interval", 120),
    ("del_nonexp", "dns_cache_del_nonexp", 0),
    ("use_failover", "use_dns_failover", 0),
    ("use_blocklist", "use_dst_blocklist", 0),
    ("blocklist_expire", "dst_blocklist_expire", 60),
    ("blocklist_mem_kb", "dst_blocklist_mem", 250),
    ("blocklist_gc_interval", "dst_blocklist_gc_interval", 60),
    ("rev_dns", "rev_dns", 0),
    ("dns", "dns", 0),
    ("slow_query_ms", "dns_slow_query_ms", 0),
)
_PREF_DEFAULTS = {"udp": 30, "tcp": 20, "tls": 10, "sctp": 20}


def from_core(core) -> DnsSettings:
    s = DnsSettings()
    s.try_ipv6 = _int(core, "dns_try_ipv6", 0)
    flags = _int(core, "dns_cache_flags", 0)
    s.ipv6_only = 1 if flags & 2 else 0
    s.prefer_ipv6 = 1 if flags & 4 else 0
    if flags & 1 or not s.try_ipv6:  # DNS_IPV4_ONLY wins over the IPv6 flags
        s.ipv6_only = s.prefer_ipv6 = 0
        s.try_ipv6 = 0
    for attr, name, default in _PLAIN:
        setattr(s, attr, _int(core, name, default))
    s.proto_pref = {p: _int(core, f"dns_{p}_pref", d) for p, d in _PREF_DEFAULTS.items()}
    if s.max_ttl < 0:
        s.max_ttl = NO_MAX_TTL
    s.blocklist_imask = {p: _int(core, f"dst_blocklist_{p}_imask", 0) for p in _PREF_DEFAULTS}
    return s


# set in the config but without effect here: each gets one start-up warning
_UNUSED = {
    "dns_cache_rec_pref": "answers replace cached entries as they come",
    "dns_cache_init": "the cache is always created (use_dns_cache=no stops its use)",
    "dst_blocklist_init": "the blocklist is always created (use_dst_blocklist=no stops its use)",
    "dns_sctp_pref": "SCTP is not a transport kamapy serves",
    "dst_blocklist_sctp_imask": "SCTP is not a transport kamapy serves",
}


def warnings(core, s: DnsSettings) -> list[str]:
    """One line per DNS parameter the config set that kamapy does not act on, or acts
    on differently; logged by the master at start-up."""
    out = []
    positions = getattr(core, "positions", {}) or {}
    for name, why in _UNUSED.items():
        if name in positions:
            out.append(f"core parameter {name} has no effect in kamapy: {why}")
    if "dns" in positions and s.dns:
        out.append("core parameter dns=yes (resolving the Via sent-by host before adding received=) "
                   "is not done by kamapy: received= is added whenever the host is not the source address")
    if "rev_dns" in positions and s.rev_dns:
        out.append("core parameter rev_dns=yes (a reverse lookup of the source address before adding "
                   "received=) is not done by kamapy")
    if s.srv_lb and not s.use_failover:
        # Kamailio's weighted pick lives in the failover handle; without it the highest
        # weight always wins -- kamapy does the same, and says so
        out.append("dns_srv_lb=yes has no effect without use_dns_failover=yes (as in Kamailio): "
                   "SRV targets are taken by priority, then highest weight")
    if s.use_failover and not s.use_cache:
        # Kamailio refuses use_dns_failover without the cache; kamapy keeps working
        out.append("use_dns_failover=yes with use_dns_cache=no: failover works, on uncached answers")
    return out
