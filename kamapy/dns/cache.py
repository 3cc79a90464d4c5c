"""The DNS cache in shm, one for every process (Kamailio: dns_cache.c).

An entry per (type, name): the records (msgpack), and in the table's C header its
absolute expiry (wall-clock seconds; 0 = permanent) and flags. A positive entry
lives for the answer's TTL clamped to dns_cache_min_ttl / dns_cache_max_ttl; an
NXDOMAIN, a NODATA, a SERVFAIL or a server that did not answer is cached as a
negative entry for dns_cache_negative_ttl seconds (0: not cached), as Kamailio
caches every failed lookup. The timer process drops expired entries every
dns_cache_gc_interval seconds; a lookup never returns an expired one.

Size: the bytes of keys and values are counted in shm against dns_cache_mem (KB);
when an answer does not fit, expired entries go first, then (dns_cache_del_nonexp)
the ones nearest their expiry; else the answer is used but not cached.
"""

from __future__ import annotations

import logging
import time

import msgpack

log = logging.getLogger("kamapy.dns")

F_NEGATIVE = 1
F_PERMANENT = 2

_OVERHEAD = 64     # per entry, beside key and value: the C record and its bucket link


def _key(rtype: str, name: str) -> bytes:
    return f"{rtype}:{name.lower().rstrip('.')}".encode("latin-1")


class Entry:
    __slots__ = ("rtype", "name", "records", "rcode", "expires", "flags", "ttl", "created")

    def __init__(self, rtype, name, records, rcode, expires, flags, ttl, created):
        self.rtype, self.name, self.records, self.rcode = rtype, name, records, rcode
        self.expires, self.flags, self.ttl, self.created = expires, flags, ttl, created

    @property
    def negative(self) -> bool:
        return bool(self.flags & F_NEGATIVE)

    @property
    def permanent(self) -> bool:
        return bool(self.flags & F_PERMANENT)

    def remaining(self, now: float | None = None) -> int:
        if self.permanent:
            return 0
        return max(-1, int(self.expires - (time.time() if now is None else now)))


class DnsCache:
    def __init__(self, settings, table=None, used=None):
        """table: a kamapy.mem.htable.SharedHashTable; used: a CounterArray(1) for the
        bytes held. Both are made in shm here when not given (in the master)."""
        if table is None:
            from ..mem.htable import SharedHashTable
            table = SharedHashTable(10, name="dns cache")
        if used is None:
            from ..mem.counters import CounterArray
            used = CounterArray(1)
        self.table = table
        self.used = used
        self.settings = settings
        self.limit = max(1, settings.cache_mem_kb) * 1024
        self._full_logged = 0.0

    # -- reads --------------------------------------------------------------
    def get(self, rtype: str, name: str, now: float | None = None) -> Entry | None:
        key = _key(rtype, name)
        hit = self.table.get_entry(key)
        if hit is None:
            return None
        value, expires, flags = hit
        now = time.time() if now is None else now
        if not flags & F_PERMANENT and expires <= now:
            return None
        return self._entry(key, value, expires, flags)

    @staticmethod
    def _entry(key: bytes, value: bytes, expires: float, flags: int) -> Entry:
        rtype, _, name = key.decode("latin-1").partition(":")
        records, rcode, ttl, created = msgpack.unpackb(value, raw=False)
        return Entry(rtype, name, records, rcode, expires, flags, ttl, created)

    def entries(self, include_expired: bool = False) -> list[Entry]:
        now = time.time()
        out = []
        for key, value, expires, flags in self.table.entries():
            if not include_expired and not flags & F_PERMANENT and expires <= now:
                continue
            out.append(self._entry(key, value, expires, flags))
        out.sort(key=lambda e: (e.name, e.rtype))
        return out

    # -- writes -------------------------------------------------------------
    def clamp(self, ttl: int) -> int:
        s = self.settings
        return max(s.min_ttl, min(s.max_ttl, int(ttl)))

    def put(self, rtype: str, name: str, records: list, ttl: int, rcode: str = "NOERROR",
            negative: bool = False, permanent: bool = False, now: float | None = None) -> bool:
        """Store an answer; False when it was not cached (no room, or a TTL of 0)."""
        now = time.time() if now is None else now
        if negative:
            ttl = self.settings.negative_ttl
        elif not permanent:
            ttl = self.clamp(ttl)
        if ttl <= 0 and not permanent:
            return False
        flags = (F_NEGATIVE if negative else 0) | (F_PERMANENT if permanent else 0)
        key = _key(rtype, name)
        value = msgpack.packb([records, rcode, int(ttl), now], use_bin_type=True)
        size = len(key) + len(value) + _OVERHEAD
        old = self.table.get(key)
        grow = size - (len(key) + len(old) + _OVERHEAD if old is not None else 0)
        if grow > 0 and self.used.get(0) + grow > self.limit and not self._make_room(grow, now):
            if now - self._full_logged > 10:
                self._full_logged = now
                log.warning("DNS cache full (dns_cache_mem=%d KB): %s %s not cached",
                            self.settings.cache_mem_kb, rtype, name)
            return False
        self.table.put(key, value, 0.0 if permanent else now + ttl, flags)
        self.used.add(0, grow)
        return True

    def _make_room(self, need: int, now: float) -> bool:
        self.gc(now)
        if self.used.get(0) + need <= self.limit:
            return True
        if not self.settings.del_nonexp:
            return False
        victims = sorted((e for e in self.table.entries() if not e[3] & F_PERMANENT), key=lambda e: e[2])
        for key, value, _exp, _flags in victims:
            if self.table.delete(key):
                self.used.add(0, -(len(key) + len(value) + _OVERHEAD))
            if self.used.get(0) + need <= self.limit:
                return True
        return False

    def delete(self, rtype: str, name: str) -> bool:
        key = _key(rtype, name)
        value = self.table.pop(key)
        if value is None:
            return False
        self.used.add(0, -(len(key) + len(value) + _OVERHEAD))
        return True

    def delete_all(self, force: bool = False) -> int:
        """Every entry but the permanent ones (all with force). Returns how many went."""
        n = 0
        for key, value, _exp, flags in self.table.entries():
            if flags & F_PERMANENT and not force:
                continue
            if self.table.delete(key):
                self.used.add(0, -(len(key) + len(value) + _OVERHEAD))
                n += 1
        return n

    def gc(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        gone = self.table.expire_entries(now)
        freed = sum(len(k) + len(v) + _OVERHEAD for k, v, _e, _f in gone)
        if freed:
            self.used.add(0, -freed)
        return len(gone)

    def mem_info(self) -> dict:
        return {"max": self.limit, "used": max(0, self.used.get(0))}
