"""htables shared by several kamapy nodes through Redis (issue 22): the tables defined
with dmqreplicate=1 when modparam("htable", "redis_url", ...) is set. Kamailio
replicates them over DMQ; kamapy uses Redis (redis-py) for the same semantics: every
set and delete made on one node is made on the others, and an item keeps its expiry
(the absolute time travels with it, so each node expires its own copy when it is due,
as with DMQ). A ban pike's script puts in $sht(ipban=>$si) on one node holds on all.

Each node still reads its own shm copy (no Redis round trip per $sht read). A change
is written through to Redis by the process that made it:
  P<table>:<key>   the item, in the table's own encoding ("i" + int / "s" + text),
                   with a Redis expiry at the item's (so a node starting later, or
                   coming back after an outage, loads only live items)
  PUBLISH P<table> msgpack [node, "s" | "d", key, value, expires]
and applied on the other nodes by one "htable redis" process per node, subscribed to
the tables' channels. On every (re)connection that process loads the tables from
Redis first (Kamailio's dmq_init_sync), so a node is in step after it starts or after
Redis was away; what a node changed while Redis was away stays on that node.
"""

from __future__ import annotations

import logging
import os
import time
import uuid

log = logging.getLogger("kamapy.htable")


class Replica:
    def __init__(self, url: str, prefix: str, tables: dict):
        self.url = url
        self.prefix = prefix
        self.tables = tables      # name -> HTable (dmqreplicate=1)
        self.node = uuid.uuid4().hex[:12]  # made in the master: the same in every child
        self._pid = None
        self._r = None
        self._down_until = 0.0
        self._logged = False

    def client(self):
        if self._pid != os.getpid():
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
            self._r = redis.Redis.from_url(self.url, socket_connect_timeout=0.3, socket_timeout=0.5,
                                           retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
            self._pid = os.getpid()
        return self._r

    def _key(self, table: str, name: str) -> bytes:
        return (self.prefix + table + ":").encode() + name.encode("utf-8", "surrogateescape")

    def changed(self, t, name: str):
        """After a set/delete/expiry change of item `name` on this node: its state now
        to Redis and to the other nodes."""
        import msgpack
        if time.monotonic() < self._down_until:
            return
        entry = t.store.get_entry(t._key(name))
        if entry is not None and t._expired(entry[1]):
            entry = None
        try:
            pipe = self.client().pipeline(transaction=False)
            key = self._key(t.name, name)
            if entry is None:
                pipe.delete(key)
                op = [self.node, "d", name, b"", 0]
            else:
                value, expires = entry[0], int(entry[1])
                if expires > 0:
                    pipe.set(key, value, pxat=expires * 1000)
                else:
                    pipe.set(key, value)
                op = [self.node, "s", name, value, expires]
            pipe.publish(self.prefix + t.name, msgpack.packb(op, use_bin_type=True))
            pipe.execute()
            if self._logged:
                self._logged = False
                log.info("htable: redis %s reachable again", self.url)
        except Exception as e:
            self._down_until = time.monotonic() + 1.0
            if not self._logged:
                self._logged = True
                log.error("htable: redis %s unavailable (%s): changes stay on this node", self.url, e)

    # ------------------------------------------------------------ the other side
    def apply(self, data: bytes, channel: str):
        import msgpack
        t = self.tables.get(channel[len(self.prefix):])
        if t is None:
            return
        node, op, name, value, expires = msgpack.unpackb(data, raw=False)
        if node == self.node:
            return
        key = t._key(name)
        if op == "d":
            t.store.delete(key)
        else:
            t.store.put(key, value, expires=float(expires))

    def load(self, r) -> int:
        """Every live item of the shared tables from Redis into this node's tables."""
        n = 0
        for name, t in self.tables.items():
            head = self._key(name, "")
            keys = list(r.scan_iter(match=head.replace(b"*", b"\\*") + b"*", count=1000))
            if not keys:
                continue
            pipe = r.pipeline(transaction=False)
            for k in keys:
                pipe.get(k)
                pipe.pexpiretime(k)
            res = pipe.execute()
            for i, k in enumerate(keys):
                value, pexp = res[2 * i], res[2 * i + 1]
                if value is None:
                    continue
                expires = pexp // 1000 if pexp and pexp > 0 else 0
                t.store.put(t._key(k[len(head):].decode("utf-8", "surrogateescape")), value,
                            expires=float(expires))
                n += 1
        return n

    def run(self, _rank: int):
        """The "htable redis" process: load, then apply the other nodes' changes."""
        from kamapy.runtime import rt
        channels = [self.prefix + n for n in self.tables]
        pubsub = None
        while not rt.stopping:
            try:
                if pubsub is None:
                    r = self.client()
                    pubsub = r.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(*channels)  # before the load: nothing is missed
                    n = self.load(r)
                    log.info("htable: %d items loaded from redis %s", n, self.url)
                msg = pubsub.get_message(timeout=0.5)
                if msg and msg.get("type") == "message":
                    ch = msg["channel"]
                    self.apply(msg["data"], ch.decode() if isinstance(ch, bytes) else ch)
            except Exception as e:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass
                pubsub = None
                if not self._logged:
                    self._logged = True
                    log.error("htable: redis %s unavailable (%s): retrying every second", self.url, e)
                time.sleep(1.0)
                continue
            if self._logged:
                self._logged = False
                log.info("htable: redis %s reachable again", self.url)


_replica: list[Replica | None] = [None]


def init(url: str, prefix: str, tables: list):
    """mod_init (master): the shared tables get their replica; the first load."""
    shared = {t.name: t for t in tables if t.dmqreplicate}
    if not url or not shared:
        _replica[0] = None
        return None
    rep = Replica(url, prefix, shared)
    for t in shared.values():
        t.replica = rep
    _replica[0] = rep
    try:
        n = rep.load(rep.client())
        log.info("htable: sharing %s through redis %s (%d items loaded)", ", ".join(shared), url, n)
    except Exception as e:
        log.error("htable: redis %s unavailable at start (%s): loading once it is back", url, e)
    return rep
