"""A growing shared hash table (SharedHashTable(grow=True), kp_ht_new_growing): it doubles
past 2 entries per bucket and nothing is lost or seen twice on the way -- single ops,
walks that span growths, several processes at once, and a pool too short to grow."""

import logging
import os
import random
import time

import pytest
from kamapy._native._kamapy_native import ffi, lib

from kamapy.mem.htable import SharedHashTable, _parse_records
from kamapy.mem.lockset import LockSet
from kamapy.mem.shm import Pool

pytestmark = pytest.mark.timeout(60)


def _expected_buckets(start, entries):
    """The size a table of `start` buckets reaches with `entries` inserts: it doubles
    each time an insert takes it past 2 per bucket."""
    n = start
    while entries > 2 * n:
        n *= 2
    return n


def _keys(n, seed):
    """Random keys of 1..40 bytes; those of different seeds never meet (a first byte each)."""
    rnd = random.Random(seed)
    return list({bytes([seed]) + rnd.randbytes(rnd.randint(0, 39)) for _ in range(n)})


def test_grows_from_16_buckets_and_keeps_every_entry(pool, caplog):
    t = SharedHashTable(size_log2=4, pool=pool, grow=True, name="grow test")
    keys = _keys(20000, 1)
    want = {}
    with caplog.at_level(logging.INFO, logger="kamapy.htable"):
        for i, k in enumerate(keys):
            want[k] = (b"v%d" % i * (i % 7 + 1), float(i) + 0.5, i & 0xFFFF)
            t.put(k, *want[k])
    n = len(keys)
    assert len(t) == n
    assert t.buckets == _expected_buckets(16, n) >= 8192
    growths, last = t.growths()
    assert growths == (t.buckets // 16).bit_length() - 1
    assert last["ok"] and last["new_buckets"] == t.buckets and last["old_buckets"] == t.buckets // 2
    assert last["pid"] == os.getpid()
    for k, (v, e, f) in want.items():
        assert t.get_entry(k) == (v, e, f)
        assert k in t
    lines = [r.getMessage() for r in caplog.records if "grew" in r.getMessage()]
    assert len(lines) == growths
    assert lines[0].startswith("grow test: grew from 16 to 32 buckets (33 entries) in ")
    # a walk after the growths: every entry once
    seen = [k for k, _v, _e, _f in t.entries()]
    assert len(seen) == n and set(seen) == set(keys)
    t.destroy()


def test_deletes_and_updates_while_growing_match_a_dict(pool):
    t = SharedHashTable(size_log2=4, pool=pool, grow=True)
    rnd = random.Random(2)
    model = {}
    keys = _keys(6000, 3)
    for i, k in enumerate(keys):
        t.put(k, b"%d" % i)
        model[k] = b"%d" % i
        if i % 3 == 0:  # delete an earlier one, as growths happen
            victim = rnd.choice(keys[: i + 1])
            assert t.delete(victim) is (victim in model)
            model.pop(victim, None)
        if i % 5 == 0:
            k2 = rnd.choice(keys[: i + 1])
            if k2 in model:
                assert t.replace(k2, model[k2], b"r" + model[k2]) is True
                model[k2] = b"r" + model[k2]
        if i % 11 == 0:
            k3 = rnd.choice(keys[: i + 1])
            assert t.pop(k3) == model.pop(k3, None)
    assert t.buckets > 16 and len(t) == len(model)
    assert dict(t.items()) == model
    for k in keys:
        assert t.get(k) == model.get(k)
    # delete all after the growth: empty, and new puts still work
    for k in list(model):
        assert t.delete(k)
    assert len(t) == 0 and list(t.items()) == []
    t.put(b"again", b"1")
    assert t.get(b"again") == b"1"
    t.destroy()


def _dump_chunk(t, cursor, cap=1024):
    buf = ffi.new("char[]", cap)
    n = lib.kp_ht_dump(t._ht, cursor, buf, cap)
    assert n >= 0, n  # entries here are small: a bucket always fits
    return [k for k, _v, _e, _f in _parse_records(ffi.buffer(buf, n)[:])]


def test_a_walk_started_before_growths_sees_every_entry_once(pool):
    t = SharedHashTable(size_log2=4, pool=pool, grow=True)
    before = _keys(30, 4)  # 30 entries: 16 buckets, under the load
    for k in before:
        t.put(k, b"x")
    assert t.buckets == 16
    cursor = ffi.new("uint64_t *", 0)
    seen = _dump_chunk(t, cursor, cap=300)  # a bucket or a few
    assert 0 < cursor[0] < lib.KP_HT_WALK_END
    added = _keys(5000, 5)
    chunks = 0
    i = 0
    while cursor[0] < lib.KP_HT_WALK_END:
        for k in added[i : i + 400]:  # several doublings between two calls of the walk
            t.put(k, b"y")
        i += 400
        seen += _dump_chunk(t, cursor)
        chunks += 1
        assert chunks < 100000
    assert t.buckets >= 1024
    assert len(seen) == len(set(seen)), "an entry was seen twice"
    assert set(before) <= set(seen), "an entry present throughout was missed"
    t.destroy()


def test_an_expire_walk_across_growths_removes_each_due_entry_once(pool):
    t = SharedHashTable(size_log2=4, pool=pool, grow=True)
    due = _keys(3000, 6)
    for k in due:
        t.put(k, b"d", expires=10.0)
    cursor = ffi.new("uint64_t *", 0)
    buf = ffi.new("char[]", 1024)
    out = []
    later = iter(_keys(20000, 7))
    while cursor[0] < lib.KP_HT_WALK_END:
        n = lib.kp_ht_expire(t._ht, 20.0, cursor, buf, 1024)
        assert n >= 0
        out += [k for k, _v, _e, _f in _parse_records(ffi.buffer(buf, n)[:])]
        for _ in range(40):  # not due: they grow the table under the walk
            t.put(next(later), b"n", expires=1000.0)
    assert t.buckets > 2048
    assert sorted(out) == sorted(due)
    assert not any(k in t for k in due)
    t.destroy()


def test_concurrent_processes_grow_it_without_loss_or_deadlock(pool, fork_run):
    t = SharedHashTable(size_log2=4, pool=pool, grow=True)
    procs, per = 4, 10000

    def worker(i):
        rnd = random.Random(i)
        mine = [b"p%d-%d" % (i, j) for j in range(per)]
        for j, k in enumerate(mine):
            t.put(k, b"%d" % j, expires=float(j), flags=i)
            assert t.get(k) == b"%d" % j
            if j % 50 == 0:  # earlier ones, while others grow the table
                for old in rnd.sample(mine[: j + 1], min(5, j + 1)):
                    assert t.get_entry(old) == (b"%d" % mine.index(old), float(mine.index(old)), i)
            if i == 0 and j % 500 == 0:  # a walk during growths: no entry twice
                keys = list(t.keys())
                assert len(keys) == len(set(keys))

    started = time.monotonic()
    fork_run(procs, worker, timeout=40.0)
    assert time.monotonic() - started < 40.0
    assert len(t) == procs * per
    assert t.buckets == _expected_buckets(16, procs * per)
    for i in range(procs):
        for j in range(per):
            assert t.get_entry(b"p%d-%d" % (i, j)) == (b"%d" % j, float(j), i)
    t.destroy()


def test_updates_under_an_outer_lock_set_in_several_processes(pool, fork_run):
    """usrloc's pattern: AOR lock (another set) -> get -> put -> release, in 3 processes
    at once while the table grows; a deadlock would show as a child killed at the
    deadline."""
    t = SharedHashTable(size_log2=3, pool=pool, grow=True)
    outer = LockSet(4, pool=pool)
    procs, per = 3, 3000

    def worker(i):
        for j in range(per):
            key = b"aor%d-%d" % (i, j % 1000)
            ptr = outer.lock_ptr(j % 4)
            rc, old = t.get_locking(ptr, key)
            assert rc == 0
            n = int(old or b"0") + 1
            assert t.put_releasing(ptr, key, b"%d" % n) == 0

    fork_run(procs, worker, timeout=30.0)
    assert len(t) == procs * 1000 and t.buckets == _expected_buckets(8, procs * 1000)
    for i in range(procs):
        for k in range(1000):
            assert t.get(b"aor%d-%d" % (i, k)) == b"3"
    t.destroy()
    outer.destroy()


def test_put_releasing_grows_after_releasing_the_callers_lock(pool):
    t = SharedHashTable(size_log2=2, pool=pool, grow=True)
    outer = LockSet(1, pool=pool)
    ptr = outer.lock_ptr(0)
    for i in range(8):  # 4 buckets hold 8
        t.put(b"k%d" % i, b"v")
    rc, value = t.get_locking(ptr, b"k9")
    assert rc == 0 and value is None
    assert t.put_releasing(ptr, b"k9", b"v9") == 0  # this put grows it
    assert t.buckets == 8
    assert lib.kp_lock_try(ptr) == 0  # released
    lib.kp_lock_release(ptr)
    assert t.get(b"k9") == b"v9"
    t.destroy()
    outer.destroy()


def test_out_of_shm_while_growing_keeps_the_old_size(caplog):
    pool = Pool(4 * 1024 * 1024)
    t = SharedHashTable(size_log2=12, pool=pool, grow=True, name="short")
    for i in range(8192):  # 4096 buckets hold 8192
        t.put(b"k%d" % i, b"v")
    assert t.buckets == 4096
    # take the rest of the pool, then give back one 2 KB hole: room for entries, not
    # for the 64 KB array of 8192 buckets
    fillers = []
    for size in (256 * 1024, 16 * 1024, 2048, 256, 64):
        while True:
            p = lib.kp_shm_malloc(pool.ptr, size)
            if p == ffi.NULL:
                break
            fillers.append((size, p))
    hole = next(p for size, p in fillers if size == 2048)
    lib.kp_shm_free(pool.ptr, hole)
    fillers = [(s, p) for s, p in fillers if p != hole]
    with caplog.at_level(logging.INFO, logger="kamapy.htable"):
        for i in range(8192, 8192 + 10):
            t.put(b"k%d" % i, b"v")  # never fails for want of a bigger array
    assert t.buckets == 4096 and len(t) == 8202
    warned = [r for r in caplog.records if "cannot grow" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert "from 4096 to 8192 buckets" in warned[0].getMessage()
    _n, last = t.growths()
    assert last["ok"] is False
    for i in range(8202):
        assert t.get(b"k%d" % i) == b"v"
    # with shm back, it grows again later (at twice the entries)
    for _size, p in fillers:
        lib.kp_shm_free(pool.ptr, p)
    for i in range(8202, 16385):
        t.put(b"k%d" % i, b"v")
    assert t.buckets == 8192
    assert all(t.get(b"k%d" % i) == b"v" for i in range(16385))
    t.destroy()
    pool.close()


def test_fixed_tables_do_not_grow_and_bad_arguments_are_refused(pool):
    t = SharedHashTable(size_log2=2, pool=pool)
    for i in range(100):
        t.put(b"k%d" % i, b"v")
    assert t.buckets == 4 and t.growths() == (0, None)
    t.destroy()
    with pytest.raises(ValueError):
        SharedHashTable(size_log2=4, pool=pool, grow=True, timed=True)
    with pytest.raises(ValueError):
        SharedHashTable(size_log2=4, pool=pool, grow=True, locks=LockSet(4, pool=pool))
    with pytest.raises(ValueError):
        SharedHashTable(size_log2=8, pool=pool, grow=4)
    # the C constructor: a lock count that would change a key's lock with the size
    assert lib.kp_ht_new_growing(pool.ptr, 4, ffi.NULL, 3, 10) == ffi.NULL
    assert lib.kp_ht_new_growing(pool.ptr, 4, ffi.NULL, 32, 10) == ffi.NULL
    assert lib.kp_ht_new_growing(pool.ptr, 4, ffi.NULL, 16, 27) == ffi.NULL
    ht = lib.kp_ht_new_growing(pool.ptr, 4, ffi.NULL, 16, 10)
    assert ht != ffi.NULL
    lib.kp_ht_free(ht)


def test_growth_stops_at_its_largest_size(pool):
    t = SharedHashTable(size_log2=2, pool=pool, grow=5)
    for i in range(500):
        t.put(b"k%d" % i, b"v")
    assert t.buckets == 32 and t.growths()[0] == 3
    assert all(t.get(b"k%d" % i) == b"v" for i in range(500))
    t.destroy()


def test_a_destroyed_table_reports_no_buckets(pool):
    t = SharedHashTable(size_log2=3, pool=pool, grow=True)
    t.put(b"k", b"v")
    t.destroy()
    assert t.buckets == 0  # a property now: it must not read the freed table
