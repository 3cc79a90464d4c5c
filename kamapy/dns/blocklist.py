"""The destination blocklist in shm (Kamailio: dst_blocklist.c): a (proto, ip, port)
that failed -- a send error, a timeout with no reply at all, a 503 when tm's blst_503
says so, or an RPC -- is skipped by every worker for dst_blocklist_expire seconds.

dst_blocklist_<proto>_imask lists events (the BLST_* bits) that never blocklist a
destination of that transport.
"""

from __future__ import annotations

import ipaddress
import logging
import time

log = logging.getLogger("kamapy.dns")

BLST_IS_IPV6 = 1
BLST_ERR_SEND = 1 << 1
BLST_ERR_CONNECT = 1 << 2
BLST_ICMP_RCVD = 1 << 3
BLST_ERR_TIMEOUT = 1 << 4
BLST_503 = 1 << 5
BLST_ADM_PROHIBITED = 1 << 6
BLST_PERMANENT = 1 << 7

PROTO_NAMES = {0: "*", 1: "udp", 2: "tcp", 3: "tls", 4: "sctp", 5: "ws", 6: "wss"}
_IMASK_OF = {1: "udp", 2: "tcp", 3: "tls", 4: "sctp"}


def _key(proto: int, ip: str, port: int) -> bytes:
    return f"{int(proto)}|{ip}|{int(port)}".encode("latin-1")


class Blocklist:
    def __init__(self, settings, table=None):
        if table is None:
            from ..mem.htable import SharedHashTable
            table = SharedHashTable(8, name="dst blocklist")
        self.table = table
        self.settings = settings
        # one entry is about 80 bytes with its record: dst_blocklist_mem bounds the count
        self.max_entries = max(16, settings.blocklist_mem_kb * 1024 // 80)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.use_blocklist)

    def add(self, flags: int, proto: int, ip: str, port: int, expire: float | None = None,
            now: float | None = None) -> bool:
        """Blocklist a destination for `expire` seconds (dst_blocklist_expire by
        default); False when disabled or masked."""
        if not self.enabled:
            return False
        mask = self.settings.blocklist_imask.get(_IMASK_OF.get(proto, ""), 0)
        if flags & mask & ~BLST_PERMANENT:
            return False
        if ":" in ip:
            flags |= BLST_IS_IPV6
        now = time.time() if now is None else now
        key = _key(proto, ip, port)
        old = self.table.get_entry(key)
        if old is None and len(self.table) >= self.max_entries:
            self.gc(now)
            if len(self.table) >= self.max_entries:
                log.warning("dst blocklist full (dst_blocklist_mem=%d KB): %s:%s:%d not added",
                            self.settings.blocklist_mem_kb, PROTO_NAMES.get(proto, proto), ip, port)
                return False
        if old is not None:
            flags |= old[2]
        ttl = self.settings.blocklist_expire if expire is None else expire
        expires = 0.0 if flags & BLST_PERMANENT else now + max(0.001, ttl)
        self.table.put(key, b"", expires, flags)
        log.info("blocklisted %s:%s:%d for %ss (flags %d)", PROTO_NAMES.get(proto, proto), ip, port,
                 "ever" if not expires else int(ttl), flags)
        return True

    def is_blocked(self, proto: int, ip: str, port: int, now: float | None = None) -> int:
        """The flags of a live entry for the destination, 0 when it is not blocklisted."""
        if not self.enabled:
            return 0
        hit = self.table.get_entry(_key(proto, ip, port))
        if hit is None:
            return 0
        _v, expires, flags = hit
        if expires and expires <= (time.time() if now is None else now):
            return 0
        return flags or BLST_ERR_SEND

    def entries(self, now: float | None = None) -> list[tuple]:
        """(proto, ip, port, seconds left, flags) of the live entries."""
        now = time.time() if now is None else now
        out = []
        for key, _v, expires, flags in self.table.entries():
            if expires and expires <= now:
                continue
            proto, ip, port = key.decode("latin-1").split("|")
            out.append((int(proto), ip, int(port), int(expires - now) if expires else 0, flags))
        out.sort(key=lambda e: (e[1], e[2], e[0]))
        return out

    def delete_all(self) -> int:
        n = 0
        for key, _v, _e, flags in self.table.entries():
            if not flags & BLST_PERMANENT and self.table.delete(key):
                n += 1
        return n

    def gc(self, now: float | None = None) -> int:
        return len(self.table.expire_entries(time.time() if now is None else now))


def parse_ip(text: str) -> str:
    return str(ipaddress.ip_address(text.strip("[]")))
