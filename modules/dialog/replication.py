"""Dialogs shared by several kamapy nodes through Redis (issue 22; Kamailio does this
with DMQ, kamapy uses Redis through redis-py instead of a replication protocol of its
own). On when modparam("dialog", "redis_url", ...) is set; docs/scale-out.md
("dialogs") is the user's view, docs/differences.md D-dialog-* the differences.

Each node keeps working on its own shm store (store.py); this module writes every
change of a dialog through to Redis and reads Redis only where the cluster's view is
needed. The hook is small: DialogStore.replica (new/save/restore/remove call it),
match.find (a miss looks in Redis), Profiles.size (counts come from Redis), the
dialog timer (tick) and the RPC listings (remote_dialogs).

Keys (P = redis_prefix, did = "<h_entry>:<h_id>", unique per node through
h_id_start/h_id_step):
  P d:<did>       hash: node (the owner), rec (the packed Dialog), callid, state,
                  prof (its profile keys, one a line)
  P c:<callid>    set of dids: in-dialog matching by Call-ID/tags on another node
  P n:<node>      set of the dids a node owns (dlg.list, resync)
  P nodes         set of node names
  P t             sorted set did -> when its timeout ends it (unconfirmed ones: when
                  early_timeout drops them): a live node takes over a dead node's due
                  dialogs from here
  P p:<profile>   sorted sets did -> the dialog's end (its timeout): the profile's
  P p:<profile>\\0<value>   members; a size is the members not yet past their end,
                  so a dialog nobody ends any more stops counting by itself
  P hb:<node>     the node's heartbeat, refreshed every second by its timer, gone
                  redis_node_ttl seconds after the node died

Ownership: a dialog is handled where it lives. When its owner's heartbeat is gone,
the first node that needs it -- for an in-dialog request that reached it, or because
its timeout fell due -- claims it (one Lua script: owner still dead -> owner = me)
and takes it into its own shm store; from then on it is that node's dialog.

Redis unreachable: every process stops trying for a second after a failure (no
request waits on a dead Redis more than one socket timeout), logs it once per outage,
and flags the shm store; the timer process then pings each second and, when Redis
answers again, writes every local dialog back and drops what this node no longer
has (resync), and writes back the dlg_remote_profile adds and removes made meanwhile
(profiles.py notes them in remote_journal.py). With redis_fail_mode 1 dlg_manage() and get_profile_size() fail
meanwhile (the script answers 500), with 0 the node goes on with what it holds.
"""

from __future__ import annotations

import logging
import os
import time

from . import state as st
from .store import Dialog

log = logging.getLogger("kamapy.dialog")

RESYNC_KEY = b"x:redis-resync"   # in the shm dialog table: a write to Redis failed
GONE_KEY = b"x:redis-gone:"      # + did: a dialog that ended while Redis was away

_SAVE = """
local P, did, node = ARGV[1], ARGV[2], ARGV[3]
local h = P .. 'd:' .. did
local owner = redis.call('HGET', h, 'node')
if owner and owner ~= node then return 0 end
local new = {}
for i = 9, #ARGV do new[ARGV[i]] = true end
local old = redis.call('HGET', h, 'prof')
if old then
  for k in string.gmatch(old, '[^\\n]+') do
    if not new[k] then redis.call('ZREM', P .. 'p:' .. k, did) end
  end
end
local plist = {}
for i = 9, #ARGV do
  redis.call('ZADD', P .. 'p:' .. ARGV[i], ARGV[8], did)
  plist[#plist + 1] = ARGV[i]
end
redis.call('HSET', h, 'node', node, 'rec', ARGV[4], 'callid', ARGV[5], 'state', ARGV[6],
           'prof', table.concat(plist, '\\n'))
redis.call('SADD', P .. 'c:' .. ARGV[5], did)
redis.call('SADD', P .. 'n:' .. node, did)
redis.call('SADD', P .. 'nodes', node)
if tonumber(ARGV[7]) > 0 then redis.call('ZADD', P .. 't', ARGV[7], did)
else redis.call('ZREM', P .. 't', did) end
return 1
"""

_REMOVE = """
local P, did, node = ARGV[1], ARGV[2], ARGV[3]
local h = P .. 'd:' .. did
local owner = redis.call('HGET', h, 'node')
if not owner or owner ~= node then return 0 end
local old = redis.call('HGET', h, 'prof')
if old then
  for k in string.gmatch(old, '[^\\n]+') do redis.call('ZREM', P .. 'p:' .. k, did) end
end
local callid = redis.call('HGET', h, 'callid')
redis.call('DEL', h)
if callid then redis.call('SREM', P .. 'c:' .. callid, did) end
redis.call('SREM', P .. 'n:' .. node, did)
redis.call('ZREM', P .. 't', did)
return 1
"""

# the owner is gone (no heartbeat) or is us: the dialog becomes ours, its record back
_CLAIM = """
local P, did, me = ARGV[1], ARGV[2], ARGV[3]
local h = P .. 'd:' .. did
local owner = redis.call('HGET', h, 'node')
if not owner then return false end
if owner ~= me then
  if redis.call('EXISTS', P .. 'hb:' .. owner) == 1 then return false end
  redis.call('HSET', h, 'node', me)
  redis.call('SREM', P .. 'n:' .. owner, did)
  redis.call('SADD', P .. 'n:' .. me, did)
end
return redis.call('HGET', h, 'rec')
"""


class Replica:
    """One node's link to the cluster's dialogs in Redis (one client per process)."""

    def __init__(self, url: str, node: str, prefix: str = "kamapy:dlg:", fail_mode: int = 0,
                 node_ttl: int = 3, early_timeout: int = 300, has_value=None):
        self.url = url
        self.node = node
        self.prefix = prefix
        self.fail_mode = fail_mode
        self.node_ttl = max(1, node_ttl)
        self.early_timeout = early_timeout
        self.has_value = has_value or {}
        self._pid = None
        self._r = None
        self._down_until = 0.0
        self._logged_down = False
        self._timer_down = True   # the timer's first tick resyncs (a restarted node's dialogs)

    # ------------------------------------------------------------ connection
    def client(self):
        if self._pid != os.getpid():
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
            self._r = redis.Redis.from_url(self.url, socket_connect_timeout=0.3, socket_timeout=0.5,
                                           retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
            self._scripts = {n: self._r.register_script(s)
                             for n, s in (("save", _SAVE), ("remove", _REMOVE), ("claim", _CLAIM))}
            self._pid = os.getpid()
        return self._r

    def up(self) -> bool:
        """False while this process waits out a failure (no request blocks on Redis)."""
        return time.monotonic() >= self._down_until

    def _failed(self, what: str, e: Exception):
        self._down_until = time.monotonic() + 1.0
        self._flag_resync()
        if not self._logged_down:
            self._logged_down = True
            how = "refusing new dialogs" if self.fail_mode else "going on with this node's dialogs"
            log.error("dialog: redis %s unavailable (%s: %s): %s until it is back", self.url, what, e, how)

    def _ok(self):
        if self._logged_down:
            self._logged_down = False
            log.info("dialog: redis %s reachable again", self.url)

    def _flag_resync(self):
        from .store import store
        try:
            store().table.put(RESYNC_KEY, b"1")
        except Exception:
            pass

    def _call(self, what: str, fn):
        """fn(client) or None when Redis is (or just went) unreachable."""
        if not self.up():
            self._flag_resync()
            return None
        try:
            out = fn(self.client())
        except Exception as e:  # redis.RedisError, OSError: a dead Redis looks like both
            self._failed(what, e)
            return None
        self._ok()
        return out

    def refusing(self) -> bool:
        """redis_fail_mode 1 and Redis unreachable: new dialogs are refused."""
        return self.fail_mode == 1 and not self.up()

    # ------------------------------------------------------------ writes
    @staticmethod
    def did(d: Dialog) -> str:
        return f"{d.h_entry}:{d.h_id}"

    def _prof_keys(self, d: Dialog) -> list[bytes]:
        out = []
        for name, value in d.profiles:
            k = name.encode()
            if k not in out:
                out.append(k)
            if self.has_value.get(name):
                kv = k + b"\0" + value.encode()
                if kv not in out:
                    out.append(kv)
        return out

    def _tscore(self, d: Dialog) -> int:
        if d.expires:
            return int(d.expires)
        if d.state <= st.EARLY:
            return int(d.init_ts or time.time()) + self.early_timeout
        return 0

    def _save_args(self, d: Dialog) -> list:
        t = self._tscore(d)
        return [self.prefix, self.did(d), self.node, d.pack(), d.callid, d.state, t,
                t if t else "+inf", *self._prof_keys(d)]

    def saved(self, d: Dialog):
        """store.new/save/restore: the record as it is now (an ended one goes)."""
        if d.state >= st.DELETED:
            return self.removed(d)
        rc = self._call("save", lambda r: self._scripts["save"](args=self._save_args(d)))
        if rc == 0:
            log.warning("dialog %s was taken over by another node: not written", self.did(d))

    def removed(self, d: Dialog):
        did = self.did(d)
        rc = self._call("remove", lambda r: self._scripts["remove"](args=[self.prefix, did, self.node]))
        if rc is None:  # Redis away: the resync drops it there
            from .store import store
            try:
                store().table.put(GONE_KEY + did.encode(), b"")
            except Exception:
                pass

    # ------------------------------------------------------------ remote profile items
    def _remote_keys(self, name: str, value: str) -> list[bytes]:
        base = self.prefix.encode() + b"p:" + name.encode()
        keys = [base]
        if self.has_value.get(name):
            keys.append(base + b"\0" + value.encode())
        return keys

    def remote_add(self, name: str, value: str, uid: str, expires: int) -> bool:
        """dlg_remote_profile("add"): the item joins the profile's sorted sets next to
        the dialogs (member r:<uid>, score its expires, +inf for none), so every
        node's get_profile_size counts it and stops counting it when it expires;
        the same uid again only moves its expires. False when Redis is away."""
        member = b"r:" + uid.encode()
        score = float(expires) if expires else float("inf")
        now = time.time()

        def add(r):
            pipe = r.pipeline(transaction=True)
            for k in self._remote_keys(name, value):
                pipe.zadd(k, {member: score})
                # items (and dialogs) long past their end: nobody reads them any more
                pipe.zremrangebyscore(k, "-inf", now - 60)
            pipe.execute()
            return True
        return bool(self._call("remote_add", add))

    def remote_rm(self, name: str, value: str, uid: str) -> bool | None:
        """dlg_remote_profile("rm") on any node: True if the item was there, None
        when Redis is away."""
        member = b"r:" + uid.encode()

        def rm(r):
            pipe = r.pipeline(transaction=True)
            for k in self._remote_keys(name, value):
                pipe.zrem(k, member)
            return bool(pipe.execute()[0])
        return self._call("remote_rm", rm)

    def write_back_remote(self, journal) -> int:
        """The timer, Redis answering again: the remote profile changes made while it
        was away (remote_journal.py), each item's last one, written in one pipeline
        under the journal's lock; kept for the next tick if Redis fails meanwhile."""
        now = time.time()
        journal.lock.get()
        try:
            entries = journal.entries()
            if not entries:
                return 0

            def write(r):
                pipe = r.pipeline(transaction=False)
                for _k, op, name, value, uid, expires, _ms in entries:
                    member = b"r:" + uid.encode()
                    for k in self._remote_keys(name, value):
                        if op == "add":
                            pipe.zadd(k, {member: float(expires) if expires else float("inf")})
                            pipe.zremrangebyscore(k, "-inf", now - 60)
                        else:
                            pipe.zrem(k, member)
                pipe.execute()
                return True
            if not self._call("remote write-back", write):
                return 0
            journal.done([e[0] for e in entries])
        finally:
            journal.lock.release()
        adds = sum(1 for e in entries if e[1] == "add")
        log.info("dialog: %d remote profile changes made while redis was away written back "
                 "(%d added, %d removed)", len(entries), adds, len(entries) - adds)
        return len(entries)

    # ------------------------------------------------------------ reads
    def profile_size(self, name: str, value: str | None) -> int | None:
        key = name.encode()
        if value is not None and self.has_value.get(name):
            key += b"\0" + value.encode()
        now = time.time()
        return self._call("profile", lambda r: int(r.zcount(self.prefix.encode() + b"p:" + key, now, "+inf")))

    def remote_dialogs(self, local: set[tuple[int, int]]) -> list[Dialog]:
        """The dialogs other nodes hold (for dlg.list & co), not those in `local`."""
        def read(r):
            nodes = [n.decode() for n in r.smembers(self.prefix + "nodes")]
            pipe = r.pipeline(transaction=False)
            for n in nodes:
                pipe.smembers(self.prefix + "n:" + n)
            dids = sorted({x.decode() for s in pipe.execute() for x in s})
            pipe = r.pipeline(transaction=False)
            for did in dids:
                pipe.hget(self.prefix + "d:" + did, "rec")
            return pipe.execute()
        recs = self._call("list", read) or []
        out = []
        for rec in recs:
            d = _unpack(rec)
            if d is not None and (d.h_entry, d.h_id) not in local:
                out.append(d)
        return out

    # ------------------------------------------------------------ take-over
    def claim(self, did: str) -> Dialog | None:
        rec = self._call("claim", lambda r: self._scripts["claim"](args=[self.prefix, did, self.node]))
        return _unpack(rec) if rec else None

    def adopt_for(self, ids, did: str | None, mode: int) -> bool:
        """An in-dialog request this node has no dialog for: a dialog in Redis whose
        owner is dead (or is us, after a restart) becomes ours. True if one did."""
        from .match import MATCH_DID_NONE, MATCH_DID_ONLY, parse_did
        dids = []
        if did and mode != MATCH_DID_NONE:
            parsed = parse_did(did)
            if parsed is not None:
                dids.append("%d:%d" % parsed)
        if not dids and (mode != MATCH_DID_ONLY) and ids is not None:
            found = self._call("match", lambda r: r.smembers(self.prefix + "c:" + ids[0]))
            dids = sorted(x.decode() for x in (found or ()))
        took = False
        for x in dids:
            d = self.claim(x)
            if d is not None and adopt(d):
                took = True
        return took

    def take_over(self, did: str) -> bool:
        """dlg.end_dlg / dlg.terminate_dlg for a dialog this node does not hold: a
        dead node's dialog (no heartbeat) becomes ours, with the route sets, contacts
        and CSeqs of its shared record, so this node can send its BYEs. False when
        Redis has no such dialog or its owner is alive (it ends its own dialogs)."""
        d = self.claim(did)
        return d is not None and adopt(d)

    def tick(self, now: float):
        """The timer (every second): heartbeat, resync after an outage, and the dead
        nodes' dialogs whose timeout fell due taken over (their timeout then runs
        here, BYEs and all)."""
        from .store import store
        s = store()
        try:
            r = self.client()
            r.set(self.prefix + "hb:" + self.node, str(int(now)), px=self.node_ttl * 1000)
            r.sadd(self.prefix + "nodes", self.node)
        except Exception as e:
            if not self._timer_down:
                self._timer_down = True
                self._failed("heartbeat", e)
            self._flag_resync()
            return
        self._down_until = 0.0
        self._ok()
        if self._timer_down or s.table.get(RESYNC_KEY) is not None:
            self._timer_down = False
            self.resync()
        from .profiles import profiles
        journal = profiles().journal
        if len(journal):
            self.write_back_remote(journal)
        due = self._call("due", lambda r: r.zrangebyscore(self.prefix + "t", "-inf", now, start=0, num=200))
        for raw in due or ():
            did = raw.decode()
            e, _, i = did.partition(":")
            if s.load(int(e), int(i)) is not None:
                continue  # ours: the local timer runs it
            d = self.claim(did)
            if d is not None and adopt(d):
                log.info("dialog %s of a dead node taken over: its timeout runs here", did)

    def resync(self):
        """After an outage: Redis gets every dialog this node holds and loses those
        that ended meanwhile; a dialog Redis says is ours but this node does not hold
        (it was restarted) comes back as the ones of a dead node do."""
        from .store import store
        s = store()
        try:
            s.table.delete(RESYNC_KEY)
            r = self.client()
            ended = [k for k, _v in s.table.items() if k.startswith(GONE_KEY)]
            for k in ended:
                self._scripts["remove"](args=[self.prefix, k[len(GONE_KEY):].decode(), self.node])
                s.table.delete(k)
            mine = {x.decode() for x in r.smembers(self.prefix + "n:" + self.node)}
            local = set()
            for d in s.all():
                lk = s.lock(d.h_entry)
                try:
                    fresh = s.load(d.h_entry, d.h_id)
                    if fresh is not None:
                        local.add(self.did(fresh))
                        if fresh.state < st.DELETED:
                            self._scripts["save"](args=self._save_args(fresh))
                finally:
                    s.unlock(lk)
            back = 0
            for did in mine - local:
                d = self.claim(did)
                if d is not None and adopt(d):
                    back += 1
            log.info("dialog: resynchronised with redis: %d dialogs written, %d ended meanwhile "
                     "dropped, %d taken back", len(local), len(ended), back)
        except Exception as e:
            self._failed("resync", e)


def _unpack(rec) -> Dialog | None:
    try:
        d = Dialog.unpack(rec)
    except Exception as e:
        log.error("dialog: a record in redis cannot be read (%s): another kamapy version?", e)
        return None
    d.armer = 0  # a pid of the node that wrote it: nothing to take over from here
    return d


def _local_socket(sock: str) -> str:
    """A dialog taken over from another node sends from one of our sockets."""
    from kamapy.runtime import rt

    from .handlers import local_socket
    if not sock or local_socket(sock):
        return sock
    proto = sock.split(":", 1)[0]
    for si in rt.sockets:
        if si.proto_name == proto:
            return f"{si.proto_name}:{si.address}:{si.port}"
    return ""


def adopt(d: Dialog) -> bool:
    """A claimed dialog into this node's store, as a db_mode load brings one back:
    its timer, profiles and statistics (store.restore also writes it through)."""
    from . import callbacks, stats
    from .profiles import profiles
    from .store import store
    if d.state >= st.DELETED:
        _replica[0].removed(d)
        return False
    d.socket = [_local_socket(x) for x in d.socket]
    d.byes = 0
    d.ref = 1
    p = profiles()
    for name, value in d.profiles:
        if p.known(name):
            p.link(name, value)
    if not store().restore(d, d.expires or 0):
        for name, value in d.profiles:
            if p.known(name):
                p.unlink(name, value)
        return False
    if d.state in (st.CONFIRMED_NA, st.CONFIRMED):
        stats.add("active_dialogs")
    elif d.state == st.EARLY:
        stats.add("early_dialogs")
    callbacks.run_global(callbacks.DLGCB_LOADED, d)
    return True


_replica: list[Replica | None] = [None]


def replica() -> Replica | None:
    return _replica[0]


def active() -> bool:
    return _replica[0] is not None


def refusing() -> bool:
    r = _replica[0]
    return r is not None and r.refusing()


def node_name(values: dict) -> str:
    name = values.get("redis_node") or ""
    if name:
        return name
    from kamapy.runtime import rt
    for si in rt.sockets or ():
        return f"{si.address}:{si.port}"
    return f"{os.uname().nodename}-{os.getpid()}"


def init(values: dict) -> int:
    """mod_init: replication on when redis_url is set."""
    from .profiles import profiles
    from .settings import cfg
    from .store import store
    url = values.get("redis_url") or ""
    if not url:
        _replica[0] = None
        store().replica = None
        return 0
    try:
        import redis  # noqa: F401
    except ImportError:
        log.error("dialog: redis_url is set but the redis Python client is not installed")
        return -1
    if cfg.h_id_step < 2:
        log.warning("dialog: redis_url with h_id_step %d: give every node the same h_id_step "
                    "(>= the number of nodes) and its own h_id_start, or their ids collide",
                    cfg.h_id_step)
    rep = Replica(url, node_name(values), values.get("redis_prefix") or "kamapy:dlg:",
                  values.get("redis_fail_mode") or 0, values.get("redis_node_ttl") or 3,
                  cfg.early_timeout, dict(profiles().has_value))
    _replica[0] = rep
    store().replica = rep
    try:
        r = rep.client()
        r.ping()
        r.set(rep.prefix + "hb:" + rep.node, str(int(time.time())), px=rep.node_ttl * 1000)
        r.sadd(rep.prefix + "nodes", rep.node)
        log.info("dialog: sharing dialogs through redis %s as node %s", url, rep.node)
    except Exception as e:
        rep._failed("start", e)
    return 0
