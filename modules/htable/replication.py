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
Redis was away.

Last writer wins, by time: a stored item is "<ms>:" + the value, <ms> the wall-clock
time of the change (the nodes' clocks must agree: NTP), and a delete leaves
"<ms>:d" (a tombstone, kept TOMBSTONE_S or the table's autoexpire if longer) so a
node that was cut off learns of it when it reloads. A change Redis did not get (it
was away) goes into the node's journal (journal.py, in shm: any process may make
it); on reconnection the "htable redis" process replays the journal first -- each
key as the node holds it now, unless Redis holds a change of it newer than this
node's -- then loads, leaving alone the keys with a pending change newer than
Redis's. Items stored by an older kamapy (no "<ms>:") count as older than any change.
A Redis that lost its data (restarted without persistence: the node's mark key is
gone) gets every item the node holds back too, stamped 0 (any real change wins).
"""

from __future__ import annotations

import logging
import os
import time
import uuid

from .journal import Journal

log = logging.getLogger("kamapy.htable")

TOMBSTONE_S = 3600
SEEN_S = 86400   # the node's mark in Redis, refreshed every MARK_EVERY seconds
MARK_EVERY = 600
DELETED = b"d"   # a stored value is "i..." or "s...": "d" is a tombstone

# a journaled change, if Redis holds none newer (KEYS[1] the item; ARGV: ms, "s" | "d",
# value, expiry in ms or 0, channel, message, tombstone lifetime in ms)
_REPLAY = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local ct = tonumber(string.match(cur, '^(%d+):'))
  if ct and ct > tonumber(ARGV[1]) then return 0 end
end
if ARGV[2] == 'd' then
  redis.call('SET', KEYS[1], ARGV[1] .. ':d', 'PX', ARGV[7])
elseif tonumber(ARGV[4]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[3], 'PXAT', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[3])
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
"""


def stamped(raw: bytes) -> tuple[int, bytes]:
    """A stored item: (its change time in ms, 0 if unstamped; the value or DELETED)."""
    head, sep, rest = raw.partition(b":")
    if sep and head.isdigit():
        return int(head), rest
    return 0, raw


class Replica:
    def __init__(self, url: str, prefix: str, tables: dict, journal_size: int = 10000):
        self.url = url
        self.prefix = prefix
        self.tables = tables      # name -> HTable (dmqreplicate=1)
        self.node = uuid.uuid4().hex[:12]  # made in the master: the same in every child
        self._pid = None
        self._r = None
        self._down_until = 0.0
        self._logged = False
        self.journal = Journal(journal_size)   # shm: made in the master, before the fork
        # (table, item) -> the change time of what the last load() read from Redis: a
        # change published before it (still queued on the subscription) is not newer
        self._loaded: dict[tuple[str, str], int] = {}

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

    def _tomb_ms(self, t) -> int:
        return max(TOMBSTONE_S, t.htexpire) * 1000

    def changed(self, t, name: str):
        """After a set/delete/expiry change of item `name` on this node: its state now
        to Redis and to the other nodes (into the journal while Redis is away)."""
        import msgpack
        ms = int(time.time() * 1000)
        if time.monotonic() < self._down_until:
            self.journal.note(t.name, name, ms)
            return
        entry = t.store.get_entry(t._key(name))
        if entry is not None and t._expired(entry[1]):
            entry = None
        try:
            pipe = self.client().pipeline(transaction=False)
            key = self._key(t.name, name)
            stamp = b"%d:" % ms
            if entry is None:
                pipe.set(key, stamp + DELETED, px=self._tomb_ms(t))
                op = [self.node, "d", name, b"", 0, ms]
            else:
                value, expires = entry[0], int(entry[1])
                if expires > 0:
                    pipe.set(key, stamp + value, pxat=expires * 1000)
                else:
                    pipe.set(key, stamp + value)
                op = [self.node, "s", name, value, expires, ms]
            pipe.publish(self.prefix + t.name, msgpack.packb(op, use_bin_type=True))
            pipe.execute()
            if self._logged:
                self._logged = False
                log.info("htable: redis %s reachable again", self.url)
        except Exception as e:
            self._down_until = time.monotonic() + 1.0
            self.journal.note(t.name, name, ms)
            if not self._logged:
                self._logged = True
                log.error("htable: redis %s unavailable (%s): changes kept in the journal until "
                          "it is back", self.url, e)

    def replay(self, r) -> tuple[int, int]:
        """The journal to Redis: (changes written, changes where Redis's was newer).
        Raises when Redis fails meanwhile (the entries not written go back)."""
        entries = self.journal.take()
        if not entries:
            return 0, 0
        todo = [(*Journal.split(k), ms) for k, ms in entries]
        done = [0]
        try:
            written, kept = self._write(r, todo, done)
        except Exception:
            self.journal.give_back(entries[done[0]:])
            raise
        log.info("htable: %d changes made while redis %s was away written back (%d keys kept "
                 "a newer change from redis)", written, self.url, kept)
        return written, kept

    def write_back_all(self, r) -> int:
        """Redis lost its data (restarted empty): every live item this node holds goes
        back, stamped 0 -- where another node's change is there already, that one stays."""
        todo = [(name, item, 0) for name, t in self.tables.items()
                for item, _v, expires in t.items() if not t._expired(expires)]
        written, _kept = self._write(r, todo, [0])
        log.info("htable: redis %s had lost the shared tables: %d items written back", self.url, written)
        return written

    def _write(self, r, todo, done) -> tuple[int, int]:
        """(table, name, ms) each: the item as this node holds it now (absent: a
        tombstone) to Redis and the other nodes, unless Redis holds a change newer than
        ms. done[0] counts the entries Redis took, for a caller whose write failed."""
        import msgpack
        script = r.register_script(_REPLAY)
        written = kept = 0
        for i in range(0, len(todo), 500):
            pipe = r.pipeline(transaction=False)
            for table, name, ms in todo[i:i + 500]:
                t = self.tables.get(table)
                if t is None:
                    continue
                entry = t.store.get_entry(t._key(name))
                if entry is None or t._expired(entry[1]):
                    op = [self.node, "d", name, b"", 0, ms]
                    args = [ms, "d", b"", 0]
                else:
                    value, expires = entry[0], int(entry[1])
                    op = [self.node, "s", name, value, expires, ms]
                    args = [ms, "s", value, expires * 1000]
                script(keys=[self._key(table, name)],
                       args=[*args, self.prefix + table, msgpack.packb(op, use_bin_type=True),
                             self._tomb_ms(t)], client=pipe)
            res = pipe.execute()
            done[0] = i + 500
            written += sum(1 for x in res if x == 1)
            kept += sum(1 for x in res if x == 0)
        return written, kept

    def _seen(self) -> bytes:
        """This node's mark in Redis (no table's key: \\0 is in none): gone means Redis
        lost what it held since this node last wrote it."""
        return self.prefix.encode() + b"\0seen\0" + self.node.encode()

    def mark(self, r) -> None:
        r.set(self._seen(), b"1", ex=SEEN_S)

    # ------------------------------------------------------------ the other side
    def apply(self, data: bytes, channel: str):
        import msgpack
        t = self.tables.get(channel[len(self.prefix):])
        if t is None:
            return
        node, op, name, value, expires, *rest = msgpack.unpackb(data, raw=False)
        if node == self.node:
            return
        # a change published before this node's last load (queued meanwhile, e.g. another
        # node's write-back while this one reconnected) is in what the load read, or older
        # than it: applied now it would undo a newer one
        if rest and rest[0] <= self._loaded.get((t.name, name), -1):
            return
        key = t._key(name)
        if op == "d":
            t.store.delete(key)
        else:
            t.store.put(key, value, expires=float(expires))

    def load(self, r) -> int:
        """Every live item of the shared tables from Redis into this node's tables (a
        tombstone deletes the node's copy), except keys this node changed later than
        Redis's change, still in its journal: the next replay writes those."""
        n = 0
        pending = len(self.journal) > 0
        loaded = {}
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
                raw, pexp = res[2 * i], res[2 * i + 1]
                if raw is None:
                    continue
                item = k[len(head):].decode("utf-8", "surrogateescape")
                ms, value = stamped(raw)
                loaded[(name, item)] = ms
                if pending:
                    mine = self.journal.when(name, item)
                    if mine is not None and mine >= ms:
                        continue
                if value == DELETED:
                    t.store.delete(t._key(item))
                    continue
                expires = pexp // 1000 if pexp and pexp > 0 else 0
                t.store.put(t._key(item), value, expires=float(expires))
                n += 1
        self._loaded = loaded
        return n

    def run(self, _rank: int):
        """The "htable redis" process: load, then apply the other nodes' changes."""
        from kamapy.runtime import rt
        channels = [self.prefix + n for n in self.tables]
        pubsub = None
        marked = 0.0
        while not rt.stopping:
            try:
                if pubsub is None:
                    r = self.client()
                    pubsub = r.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(*channels)  # before the load: nothing is missed
                    self.replay(r)   # this node's changes first: they win where newer
                    if not r.exists(self._seen()):
                        self.write_back_all(r)
                    self.mark(r)
                    marked = time.monotonic()
                    n = self.load(r)
                    log.info("htable: %d items loaded from redis %s", n, self.url)
                elif len(self.journal):
                    self.replay(r)   # changes a process journaled in its second off Redis
                elif time.monotonic() - marked > MARK_EVERY:
                    self.mark(r)
                    marked = time.monotonic()
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


def init(url: str, prefix: str, tables: list, journal_size: int = 10000):
    """mod_init (master): the shared tables get their replica; the first load."""
    shared = {t.name: t for t in tables if t.dmqreplicate}
    if not url or not shared:
        _replica[0] = None
        return None
    rep = Replica(url, prefix, shared, journal_size)
    for t in shared.values():
        t.replica = rep
    _replica[0] = rep
    try:
        n = rep.load(rep.client())
        rep.mark(rep.client())   # in step with Redis: no write-back at the first connection
        log.info("htable: sharing %s through redis %s (%d items loaded)", ", ".join(shared), url, n)
    except Exception as e:
        log.error("htable: redis %s unavailable at start (%s): loading once it is back", url, e)
    return rep
