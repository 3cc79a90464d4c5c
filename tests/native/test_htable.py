"""The shared hash table: semantics, big values, expiry, exhaustion, several processes."""

import os
import random
import signal

import pytest

from kamapy.mem.htable import SharedHashTable
from kamapy.mem.lockset import LockSet
from kamapy.mem.shm import Pool, ShmExhausted

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=[False, True], ids=["plain", "timed"])
def table(pool, request):
    t = SharedHashTable(size_log2=6, pool=pool, timed=request.param)
    yield t
    t.destroy()


def test_put_get_overwrite_delete(table):
    assert table.get(b"k") is None
    assert table.get(b"k", b"dflt") == b"dflt"
    table.put(b"k", b"v1")
    assert table.get(b"k") == b"v1"
    table.put(b"k", b"value-two")
    assert table.get(b"k") == b"value-two"
    assert len(table) == 1
    assert b"k" in table and table.contains(b"k") and b"x" not in table
    assert table.delete(b"k") is True
    assert table.delete(b"k") is False
    assert len(table) == 0 and table.get(b"k") is None


def test_empty_key_and_value_and_binary_data(table):
    table.put(b"", b"")
    assert table.get(b"") == b""
    blob = bytes(range(256)) * 3
    table.put(b"\x00bin\xff", blob)
    assert table.get(b"\x00bin\xff") == blob
    assert table.get(b"\x00bin") is None


def test_entry_header(table):
    table.put(b"aor", b"contact", expires=1234.5, flags=0x81)
    assert table.get_entry(b"aor") == (b"contact", 1234.5, 0x81)
    table.put(b"aor", b"contact2")
    assert table.get_entry(b"aor") == (b"contact2", 0.0, 0)
    assert table.get_entry(b"none") is None


def test_values_bigger_than_the_buffer(table):
    big = b"B" * 100_000
    table.put(b"big", big)
    assert table.get(b"big") == big
    assert table.get_entry(b"big")[0] == big
    assert table.pop(b"big") == big
    assert len(table) == 0


def test_pop(table):
    table.put(b"a", b"1")
    assert table.pop(b"a") == b"1"
    assert table.pop(b"a") is None
    assert table.pop(b"a", b"gone") == b"gone"


def test_put_if_absent(table):
    assert table.put_if_absent(b"k", b"first", expires=5.0) is True
    assert table.put_if_absent(b"k", b"second") is False
    assert table.get_entry(b"k") == (b"first", 5.0, 0)


def test_replace_is_compare_and_swap(table):
    assert table.replace(b"k", b"x", b"y") is False  # absent
    table.put(b"k", b"old", expires=9.0, flags=3)
    assert table.replace(b"k", b"wrong", b"new") is False
    assert table.get(b"k") == b"old"
    assert table.replace(b"k", b"old", b"new") is True
    assert table.get_entry(b"k") == (b"new", 9.0, 3)  # header kept
    assert table.replace(b"k", b"new", b"newer", expires=1.0, flags=7) is True
    assert table.get_entry(b"k") == (b"newer", 1.0, 7)
    assert len(table) == 1


def test_keys_items_entries(table):
    want = {b"key%d" % i: b"val%d" % i for i in range(500)}  # > buckets: chains
    for k, v in want.items():
        table.put(k, v, expires=float(len(k)), flags=len(v))
    assert len(table) == 500
    assert sorted(table.keys()) == sorted(want)
    assert dict(table.items()) == want
    assert set(table) == set(want)
    for k, v, e, f in table.entries():
        assert want[k] == v and e == float(len(k)) and f == len(v)


def test_items_with_a_bucket_bigger_than_the_dump_buffer(pool):
    t = SharedHashTable(size_log2=0, pool=pool)  # one bucket
    vals = {b"k%d" % i: bytes([i]) * 30_000 for i in range(5)}
    for k, v in vals.items():
        t.put(k, v)
    assert dict(t.items()) == vals
    t.destroy()


def test_expire(table):
    table.put(b"never", b"0")
    table.put(b"soon", b"1", expires=10.0)
    table.put(b"later", b"2", expires=20.0)
    table.put(b"exact", b"3", expires=15.0)
    assert table.expire(5.0) == []
    assert sorted(table.expire(15.0)) == [(b"exact", b"3"), (b"soon", b"1")]
    assert len(table) == 2 and table.get(b"soon") is None
    assert table.expire(1e12) == [(b"later", b"2")]
    assert list(table.keys()) == [b"never"]


def test_expire_many_across_buffers(pool):
    t = SharedHashTable(size_log2=4, pool=pool)
    for i in range(3000):
        t.put(b"k%d" % i, b"v" * 100, expires=1.0 if i % 2 else 0.0)
    gone = t.expire(2.0)
    assert len(gone) == 1500 and len(t) == 1500
    assert all(int(k[1:]) % 2 for k, _ in gone)
    t.destroy()
    assert pool.free_blocks() == 1


def test_destroy_returns_all_memory(pool):
    t = SharedHashTable(size_log2=8, pool=pool)
    for i in range(1000):
        t.put(b"%d" % i, b"x" * (i % 300))
    t.destroy()
    assert pool.stats()["used"] == 0
    assert pool.free_blocks() == 1
    pool.check()


def test_shared_lock_set(pool):
    locks = LockSet(4, pool=pool)
    a = SharedHashTable(size_log2=5, locks=locks)
    b = SharedHashTable(size_log2=5, locks=locks)
    a.put(b"k", b"a")
    b.put(b"k", b"b")
    assert (a.get(b"k"), b.get(b"k")) == (b"a", b"b")
    a.destroy()
    b.destroy()
    locks.destroy()
    assert pool.free_blocks() == 1


def test_size_out_of_range(pool):
    with pytest.raises(ValueError):
        SharedHashTable(size_log2=40, pool=pool)


def test_bucket_lock_of_a_dead_holder_is_recovered(pool, fork_tools):
    start_child, reap = fork_tools
    locks = LockSet(1, pool=pool, name="ht-locks")  # every bucket shares lock 0
    table = SharedHashTable(size_log2=4, locks=locks)
    table.put(b"k", b"before")
    ready_r, ready_w = os.pipe()

    def holder():
        locks.get(0)
        os.write(ready_w, b"1")
        signal.pause()

    pid = start_child(holder)
    try:
        assert os.read(ready_r, 1) == b"1"
        os.kill(pid, signal.SIGKILL)
    finally:
        reap([pid])
        os.close(ready_r)
        os.close(ready_w)
    table.put(b"k", b"after")  # C takes the lock over instead of hanging
    assert table.get(b"k") == b"after"
    assert table.recoveries == 1
    table.destroy()
    locks.destroy()


def test_calling_with_the_bucket_lock_held_is_an_error_not_a_release(pool):
    locks = LockSet(1, pool=pool)
    table = SharedHashTable(size_log2=2, locks=locks)
    table.put(b"k", b"v")
    locks.get(0)
    try:
        for call in (
            lambda: table.put(b"k", b"w"),
            lambda: table.get(b"k"),
            lambda: table.pop(b"k"),
            lambda: table.delete(b"k"),
            lambda: b"k" in table,
            lambda: list(table.items()),
            lambda: table.expire(1e12),
        ):
            with pytest.raises(RuntimeError):
                call()
    finally:
        locks.release(0)  # still held: none of the calls released it
    assert table.get(b"k") == b"v"
    table.destroy()
    locks.destroy()


def test_sysv_lock_set_is_refused(pool):
    locks = LockSet(2, pool=pool, method="sysv")
    try:
        with pytest.raises(ValueError):
            SharedHashTable(locks=locks)
    finally:
        locks.destroy()


def test_exhaustion_leaves_the_table_consistent():
    with Pool(256 * 1024) as small:
        t = SharedHashTable(size_log2=6, pool=small)
        stored = {}
        with pytest.raises(ShmExhausted):
            for i in range(100_000):
                k, v = b"key%d" % i, b"v%d" % i * 20
                t.put(k, v)
                stored[k] = v
        assert len(t) == len(stored) > 100
        assert dict(t.items()) == stored
        first = next(iter(stored))
        with pytest.raises(ShmExhausted):
            t.put(first, b"x" * 200_000)  # a failed overwrite keeps the old value
        assert t.get(first) == stored[first]
        for k in list(stored)[: len(stored) // 2]:
            assert t.delete(k)
            del stored[k]
        t.put(b"after", b"frees")  # works again
        stored[b"after"] = b"frees"
        assert dict(t.items()) == stored
        small.check()
        t.destroy()
        assert small.free_blocks() == 1


def test_created_in_parent_used_in_children(table, fork_run):
    table.put(b"from-parent", b"p")

    def child(i):
        assert table.get(b"from-parent") == b"p"
        table.put(b"child%d" % i, b"c%d" % i)

    fork_run(3, child)
    assert sorted(table.keys()) == [b"child0", b"child1", b"child2", b"from-parent"]
    assert table.get(b"child2") == b"c2"


def _script(i, ops=3000):
    """The writes of process i: its own keys (put/overwrite/delete) and shared keys."""
    rng = random.Random(i)
    for n in range(ops):
        r = rng.random()
        if r < 0.2:
            yield "shared", b"shared%d" % rng.randrange(50), b"%d:%d" % (i, n)
        elif r < 0.7:
            yield "put", b"p%d-%d" % (i, rng.randrange(400)), b"v%d-" % n * rng.randrange(1, 40)
        else:
            yield "delete", b"p%d-%d" % (i, rng.randrange(400)), None


def test_concurrent_writers(pool, fork_run):
    table = SharedHashTable(size_log2=7, pool=pool)
    procs = 3

    def worker(i):
        for op, key, value in _script(i):
            if op == "delete":
                table.delete(key)
            else:
                table.put(key, value)
                got = table.get(key)
                assert op == "shared" or got == value

    fork_run(procs, worker)

    expected = {}
    for i in range(procs):
        for op, key, value in _script(i):
            if op == "put":
                expected[key] = value
            elif op == "delete":
                expected.pop(key, None)
    items = dict(table.items())
    shared = {k: v for k, v in items.items() if k.startswith(b"shared")}
    own = {k: v for k, v in items.items() if not k.startswith(b"shared")}
    assert own == expected
    writers = {i: {(k, v) for op, k, v in _script(i) if op == "shared"} for i in range(procs)}
    for k, v in shared.items():
        writer = int(v.split(b":")[0])
        assert (k, v) in writers[writer]
    assert len(table) == len(items)
    table.destroy()
    pool.check()
    assert pool.free_blocks() == 1


def test_get_locking_and_put_releasing(table, pool):
    """An update under a lock of the caller's own: the lock is taken with the read and
    released with the write; an absent key still leaves it held; a value bigger than the
    read buffer comes whole."""
    outer = LockSet(4, pool=pool)
    lk = outer.lock_ptr(2)

    def held():
        if outer.try_get(2):
            outer.release(2)
            return False
        return True

    table.put(b"aor", b"v1", 5.0, 1)
    assert table.get_locking(lk, b"aor") == (0, b"v1")
    with pytest.raises(RuntimeError):  # held by this very process (error-checking mutex)
        held()
    assert table.put_releasing(lk, b"aor", b"v2", 7.0, 3) == 0
    assert not held()
    assert table.get_entry(b"aor") == (b"v2", 7.0, 3)
    assert table.get_locking(lk, b"none") == (0, None)
    outer.release(2)
    big = bytes(range(256)) * 100
    table.put(b"big", big)
    assert table.get_locking(lk, b"big") == (0, big)
    assert table.put_releasing(lk, b"big", b"small") == 0
    assert not held() and table.get(b"big") == b"small"
