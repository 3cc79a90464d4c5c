"""A hash table in shared memory: the building block of usrloc, dialog, tm, the DNS
cache and the htable module (Kamailio: str_hash.h and the modules' own tables).

Keys and values are bytes. Each entry also has a fixed C header - `expires` (a float
timestamp, 0 = never) and `flags` (uint32) - that C code such as timers can read
without Python. Buckets are guarded by a lock set (bucket i by lock i % nlocks); each
operation below is one cffi call that takes the bucket lock inside C, so no Python
code ever runs with a bucket locked.

A table made with grow=True doubles its bucket array (in C, with every bucket lock
taken) whenever a put takes it past 2 entries per bucket, so its chains stay short
whatever size it started at; `buckets` is then the current size, and the process whose
put grew it logs one INFO line.

Lookups copy the value into a per-table buffer that grows on demand: a table object
is therefore not safe to share between threads of one process (kamapy workers are
single-threaded; create one object per thread otherwise - they may share the shm).
"""

import logging
import struct

from kamapy._native._kamapy_native import ffi, lib
from kamapy.mem import lock_watch
from kamapy.mem.lockset import LockSet
from kamapy.mem.shm import ShmExhausted, resolve_pool

__all__ = ["SharedHashTable"]

log = logging.getLogger("kamapy.htable")

_put = lib.kp_ht_put
_get = lib.kp_ht_get
_take = lib.kp_ht_take
_get_locking = lib.kp_ht_get_locking
_put_releasing = lib.kp_ht_put_releasing
_delete = lib.kp_ht_delete
_count = lib.kp_ht_count
_unpack = ffi.unpack
_NULL = ffi.NULL

_SET = lib.KP_HT_SET
_ADD = lib.KP_HT_ADD
_REPLACE = lib.KP_HT_REPLACE
_KEEP_EXPIRES = lib.KP_HT_KEEP_EXPIRES
_KEEP_FLAGS = lib.KP_HT_KEEP_FLAGS
_ELOCK = lib.KP_HT_ELOCK
_GREW = lib.KP_HT_GREW
_WALK_END = lib.KP_HT_WALK_END
_MAX_LOG2 = 26

# kp_ht_record_t: klen, vlen, expires, flags, reserved; then key and value bytes
_RECORD = struct.Struct("=IIdII")

_VALUE_BUF = 4096
_DUMP_BUF = 64 * 1024
_MAX_LOCKS = 1024



def _value_reader(c_read, name: str, doc: str):
    """get or pop (c_read: kp_ht_get or kp_ht_take) as a method: the value, default when
    absent; a value bigger than the buffer grows it and asks again. Made once per C
    function, so a read costs what a method written out would."""
    def read(self, key, default=None):
        while True:
            n = c_read(self._ht, key, len(key), self._buf, self._cap, _NULL, _NULL)
            if n < 0:
                if n == _ELOCK:
                    raise self._failed(n, key)
                return default
            if n <= self._cap:
                return _unpack(self._buf, n)
            self._grow(n)
    read.__name__ = read.__qualname__ = name
    read.__doc__ = doc
    return read

class SharedHashTable:
    """SharedHashTable(size_log2=10, locks=None, pool=None, name=None, timed=False, grow=False).

    locks: a LockSet (method "mutex") to share with other tables; by default the table
    makes its own with one lock per bucket, at most 1024.
    timed: entries with an expires also sit on a timing wheel in C, so expire() costs
    what is due, not what is stored (a timer's table). One lock of its own guards the
    buckets and the wheel, as Kamailio's timer lists have one.
    grow: True (up to 2^26 buckets) or the largest size_log2: the table doubles when it
    holds more than 2 entries per bucket. Its lock set is its own (the grower takes
    every lock; nobody else may hold one), of min(2^size_log2, 1024) locks, a number
    that keeps each key's lock the same at every size.
    """

    def __init__(self, size_log2=10, locks=None, pool=None, name=None, timed=False, grow=False):
        if not 0 <= size_log2 <= _MAX_LOG2:
            raise ValueError("size_log2 must be within 0..26")
        if timed and locks is not None:
            raise ValueError("a timed hash table needs a lock set of its own")
        max_log2 = 0
        if grow:
            max_log2 = _MAX_LOG2 if grow is True else int(grow)
            if timed or locks is not None:
                raise ValueError("a growing hash table is a plain one with a lock set of its own")
            if not size_log2 <= max_log2 <= _MAX_LOG2:
                raise ValueError(f"grow: the largest size_log2 must be within {size_log2}..{_MAX_LOG2}")
        if locks is not None:
            if locks.method != "mutex":
                raise ValueError("a shared hash table needs a lock set of method 'mutex'")
            self.pool = pool if pool is not None else locks.pool
            self._own_locks = False
        else:
            self.pool = resolve_pool(pool)
            nlocks = 1 if timed else min(1 << size_log2, _MAX_LOCKS)
            locks = LockSet(nlocks, pool=self.pool, name="htable")
            self._own_locks = True
        self.locks = locks
        if timed:
            self._ht = lib.kp_ht_new_timed(self.pool.ptr, size_log2, locks._set)
        elif max_log2:
            self._ht = lib.kp_ht_new_growing(self.pool.ptr, size_log2, locks._set, 0, max_log2)
        else:
            self._ht = lib.kp_ht_new(self.pool.ptr, size_log2, locks._set, 0)
        if self._ht == _NULL:
            if self._own_locks:
                locks.destroy()
            raise ShmExhausted(f"shm pool exhausted: cannot allocate a table of 2^{size_log2} buckets")
        self.name = name or f"hash table@{int(ffi.cast('uintptr_t', self._ht)):#x}"
        lock_watch.watch(self.name, self)  # bucket-lock take-overs happen in C: logged by the timer
        self._cap = _VALUE_BUF
        self._buf = ffi.new("char[]", self._cap)
        self._expires = ffi.new("double *")
        self._flags = ffi.new("uint32_t *")
        self._lock_rc = ffi.new("int *")
        self._cursor = ffi.new("uint64_t *")

    # -- writes -----------------------------------------------------------------

    def put(self, key, value, expires=0.0, flags=0):
        """Insert or overwrite."""
        rc = _put(self._ht, key, len(key), value, len(value), expires, flags, _SET, _NULL, 0)
        if rc != 1:
            self._put_result(rc, key, value)

    def put_if_absent(self, key, value, expires=0.0, flags=0):
        """Insert only if key is absent; True if inserted."""
        rc = _put(self._ht, key, len(key), value, len(value), expires, flags, _ADD, _NULL, 0)
        if rc < 0 or rc == _GREW:
            self._put_result(rc, key, value)
        return rc > 0

    def replace(self, key, old, new, expires=None, flags=None):
        """Compare-and-swap: set key to new only if its value is currently old; True if
        replaced. expires/flags stay as they were unless given."""
        mode = _REPLACE
        if expires is None:
            mode |= _KEEP_EXPIRES
            expires = 0.0
        if flags is None:
            mode |= _KEEP_FLAGS
            flags = 0
        rc = _put(self._ht, key, len(key), new, len(new), expires, flags, mode, old, len(old))
        if rc < 0:
            raise self._failed(rc, key, new)
        return rc > 0  # a replace never inserts, so never grows the table

    def delete(self, key):
        """True if the key was there."""
        rc = _delete(self._ht, key, len(key))
        if rc < 0:
            raise self._failed(rc, key)
        return rc == 1

    pop = _value_reader(_take, "pop", "Remove key and return its value (default if absent).")

    # -- reads ------------------------------------------------------------------

    get = _value_reader(_get, "get", "The value of key (default if absent).")

    # -- an update under a lock of the caller's own (usrloc's AOR lock) ----------
    # lock + get and put + release, each in one C call; `lock` is a kp_lock_t * of the
    # caller's lock set (LockSet.lock_ptr).

    def get_locking(self, lock, key):
        """Take lock, then get(key). (lock_rc, value or None): lock_rc is the lock
        call's result -- 0, or errno.EOWNERDEAD (taken, its holder had died); any other
        value means the lock was not taken and nothing was read. When it raises, the
        lock is not held."""
        rc_out = self._lock_rc
        n = _get_locking(self._ht, lock, rc_out, key, len(key), self._buf, self._cap, _NULL, _NULL)
        rc = rc_out[0]
        if n < 0:
            if n == _ELOCK:
                lib.kp_lock_release(lock)
                raise self._failed(n, key)
            return rc, None
        if n <= self._cap:
            return rc, _unpack(self._buf, n)
        try:
            return rc, self.get(key)  # bigger than the buffer: again, the lock still held
        except BaseException:
            lib.kp_lock_release(lock)
            raise

    def put_releasing(self, lock, key, value, expires=0.0, flags=0) -> int:
        """put(key, value), then release lock (whatever the put did): the release's
        result (0 = released). Raises the put's error after releasing."""
        rc_out = self._lock_rc
        rc = _put_releasing(self._ht, lock, rc_out, key, len(key), value, len(value), expires, flags)
        if rc != 1:
            self._put_result(rc, key, value)
        return rc_out[0]

    def get_entry(self, key):
        """(value, expires, flags), or None if absent."""
        while True:
            n = _get(self._ht, key, len(key), self._buf, self._cap, self._expires, self._flags)
            if n < 0:
                if n == _ELOCK:
                    raise self._failed(n, key)
                return None
            if n <= self._cap:
                return _unpack(self._buf, n), self._expires[0], self._flags[0]
            self._grow(n)

    def contains(self, key):
        n = _get(self._ht, key, len(key), self._buf, 0, _NULL, _NULL)
        if n == _ELOCK:
            raise self._failed(n, key)
        return n >= 0

    __contains__ = contains

    def __len__(self):
        return _count(self._ht)

    def keys(self):
        for key, _value, _expires, _flags in self._walk(expire=False):
            yield key

    __iter__ = keys

    def items(self):
        """(key, value) pairs; each bucket is copied under its lock, so the whole is not
        one snapshot of the table."""
        for key, value, _expires, _flags in self._walk(expire=False):
            yield key, value

    def entries(self):
        """(key, value, expires, flags) for every entry, bucket by bucket."""
        return self._walk(expire=False)

    # -- expiry -----------------------------------------------------------------

    def expire(self, now):
        """Remove every entry with 0 < expires <= now; returns [(key, value)] removed."""
        return [(key, value) for key, value, _e, _f in self._walk(expire=True, now=now)]

    def expire_entries(self, now):
        """expire(), returning [(key, value, expires, flags)] removed."""
        return self._walk(expire=True, now=now)

    def expire_visits(self):
        """Buckets, wheel slots and entries expiry has looked at so far: its work,
        counted (tests and benches compare it as the table grows)."""
        return lib.kp_ht_expire_visits(self._ht)

    # -- internals --------------------------------------------------------------

    @property
    def buckets(self):
        """The number of buckets now (a growing table's changes); 0 once destroyed."""
        return lib.kp_ht_buckets(self._ht) if self._ht is not None else 0

    def growths(self):
        """(doublings so far, the latest as a dict or None)."""
        g = ffi.new("kp_ht_growth_t *")
        n = lib.kp_ht_growth(self._ht, g)
        last = None
        if g.new_buckets:
            last = {"old_buckets": g.old_buckets, "new_buckets": g.new_buckets, "entries": g.entries,
                    "ms": g.usec / 1000.0, "ok": bool(g.ok), "pid": g.pid}
        return n, last

    def _put_result(self, rc, key, value):
        """A put's result other than 1: raises for an error; a growth this process did
        (or, once, one it could not do) gets its log line."""
        if rc < 0:
            raise self._failed(rc, key, value)
        if rc == _GREW:
            _n, g = self.growths()
            if g is None:
                return
            if g["ok"]:
                log.info("%s: grew from %d to %d buckets (%d entries) in %.1f ms", self.name,
                         g["old_buckets"], g["new_buckets"], g["entries"], g["ms"])
            else:
                log.warning("%s: cannot grow from %d to %d buckets (%d entries): shm pool exhausted; "
                            "it keeps %d buckets (said once)", self.name, g["old_buckets"],
                            g["new_buckets"], g["entries"], g["old_buckets"])

    def _walk(self, expire, now=0.0):
        cursor = self._cursor
        cursor[0] = 0
        cap = _DUMP_BUF
        buf = ffi.new("char[]", cap)
        out = []
        while cursor[0] < _WALK_END:
            if expire:
                n = lib.kp_ht_expire(self._ht, now, cursor, buf, cap)
            else:
                n = lib.kp_ht_dump(self._ht, cursor, buf, cap)
            if n == _ELOCK:
                raise self._failed(n, b"")
            if n < 0:  # one bucket holds more than the buffer
                cap = max(-n, 2 * cap)
                buf = ffi.new("char[]", cap)
                continue
            out.extend(_parse_records(ffi.buffer(buf, n)[:]))
        return out

    def _grow(self, n):
        self._cap = max(n, 2 * self._cap)
        self._buf = ffi.new("char[]", self._cap)

    def _failed(self, rc, key, value=b""):
        if rc == _ELOCK:
            return RuntimeError(
                f"hash table {key!r}: this process already holds the bucket's lock "
                f"(of the shared lock set {self.locks.name})"
            )
        if self.pool.corrupted is not None:
            return self.pool._exhausted(len(key) + len(value))  # says why: ShmCorrupted
        free = self.pool.stats()["free"]
        return ShmExhausted(
            f"shm pool exhausted: no room for a {len(key)}+{len(value)}-byte hash entry ({free} free)"
        )

    @property
    def recoveries(self):
        """Times a bucket lock was taken over from a process that died holding it."""
        return self.locks.recoveries

    def destroy(self):
        """Free every entry and the table (and its own lock set); nobody may use it after."""
        if self._ht is not None:
            lib.kp_ht_free(self._ht)
            self._ht = None
            if self._own_locks:
                self.locks.destroy()

    def __repr__(self):
        return f"<SharedHashTable buckets={self.buckets} entries={len(self)}>"


def _parse_records(data):
    records = []
    pos, end, head = 0, len(data), _RECORD.size
    unpack = _RECORD.unpack_from
    while pos < end:
        klen, vlen, expires, flags, _ = unpack(data, pos)
        pos += head
        key = data[pos : pos + klen]
        pos += klen
        records.append((key, data[pos : pos + vlen], expires, flags))
        pos += vlen
    return records
