"""One record set by (type, name): the hosts file (for addresses, in nsswitch order),
then the shm cache, then the DNS server; answers (and the SRV targets' addresses
from the additional section) go into the cache, failures as negative entries.
"""

from __future__ import annotations

import logging
import time

from . import resolver as rv

log = logging.getLogger("kamapy.dns")

NODATA = "NODATA"


class Result:
    __slots__ = ("records", "rcode", "source", "name")

    def __init__(self, records, rcode, source, name):
        self.records, self.rcode, self.source, self.name = records, rcode, source, name

    @property
    def ok(self) -> bool:
        return bool(self.records)


class Lookups:
    def __init__(self, settings, resolver, cache=None, hosts=None):
        self.settings = settings
        self.resolver = resolver
        self.cache = cache if settings.use_cache else None
        self.hosts = hosts

    def deadline(self) -> float:
        """The budget of one whole resolution (NAPTR, SRV and addresses together)."""
        return time.monotonic() + self.resolver.max_wait

    def records(self, rtype: str, name: str, deadline: float | None = None) -> Result:
        """The records of rtype for name, trying the search list's names in turn."""
        last = Result([], rv.NXDOMAIN, "", name)
        for cand in self.resolver.candidates(name):
            r = self._one(rtype, cand, deadline)
            if r.ok:
                return r
            last = r
            if r.rcode in (rv.TIMEOUT, rv.NOSERVER):
                break  # nobody answers: the next search name would only wait again
        return last

    def _one(self, rtype: str, name: str, deadline) -> Result:
        cache = self.cache
        if cache is not None:
            e = cache.get(rtype, name)
            if e is not None:
                return Result(e.records, e.rcode if e.negative else rv.NOERROR, "cache", name)
        if deadline is not None and time.monotonic() >= deadline:
            return Result([], rv.TIMEOUT, "", name)
        started = time.monotonic()
        ans = self.resolver.query(name, rtype, deadline)
        slow = self.settings.slow_query_ms
        if slow and (time.monotonic() - started) * 1000 > slow:
            log.warning("DNS: slow query %s %s: %d ms", name, rtype, (time.monotonic() - started) * 1000)
        rcode = ans.rcode
        if rcode == rv.NOERROR and not ans.records:
            rcode = NODATA
        if cache is not None:
            if ans.records:
                cache.put(rtype, name, ans.records, ans.ttl)
            else:
                cache.put(rtype, name, [], 0, rcode=rcode, negative=True)
            for (xname, xtype), (recs, ttl) in ans.extra.items():
                if recs and cache.get(xtype, xname) is None:
                    cache.put(xtype, xname, recs, ttl)
        return Result(ans.records, rcode if not ans.records else rv.NOERROR, "dns", name)

    def addresses(self, name: str, deadline: float | None = None) -> tuple[list[str], str]:
        """(ips, rcode) of a host name: IPv4 first, IPv6 when allowed (dns_try_ipv6),
        IPv6 first with dns_cache_flags 4, IPv6 only with 2."""
        s = self.settings
        if s.ipv6_only:
            types = ["AAAA"]
        elif s.try_ipv6:
            types = ["AAAA", "A"] if s.prefer_ipv6 else ["A", "AAAA"]
        else:
            types = ["A"]
        order = self.hosts.order if self.hosts is not None else ["dns"]
        rcode = rv.NXDOMAIN
        for source in order:
            for t in types:
                if source == "files":
                    if self.hosts is not None:
                        ips = self.hosts.lookup(name, t)
                        if ips:
                            return ips, rv.NOERROR
                    continue
                r = self.records(t, name, deadline)
                if r.ok:
                    return list(r.records), rv.NOERROR
                if r.rcode != rv.NXDOMAIN or rcode == rv.NXDOMAIN:
                    rcode = r.rcode
                if r.rcode in (rv.TIMEOUT, rv.NOSERVER):
                    break
        return [], rcode
