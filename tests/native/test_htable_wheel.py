"""The timing wheel of a timed hash table: expiry's work follows what is due, not what
is stored, and it hands back exactly what a full scan would."""

import random
import time

import pytest

from kamapy.mem.htable import SharedHashTable
from kamapy.mem.lockset import LockSet
from kamapy.mem.shm import Pool

pytestmark = pytest.mark.timeout(60)

T0 = 1_780_000_000.0  # a wall-clock moment: the tm timer's time base
TICK = 0.05           # the tm timer's interval


def _visits_per_run(pending, timed, runs=200):
    """Expiry work of `runs` timer ticks with `pending` far-future entries stored and one
    entry due per tick."""
    pool = Pool(64 * 1024 * 1024)
    try:
        t = SharedHashTable(12, pool=pool, timed=timed)
        for i in range(pending):
            t.put(b"far%06d" % i, b"", T0 + 120.0 + i * 1e-3, 0)
        t.expire(T0)  # the first run: a timed table places everything once
        before = t.expire_visits()
        popped = 0
        for n in range(1, runs + 1):
            now = T0 + n * TICK
            t.put(b"soon%d" % n, b"", now - TICK / 2, 0)
            popped += len(t.expire(now))
        assert popped == runs and len(t) == pending
        work = t.expire_visits() - before
        t.destroy()
        return work
    finally:
        pool.close()


def test_expiry_work_does_not_grow_with_pending_entries():
    work = {n: _visits_per_run(n, timed=True) for n in (0, 10_000, 50_000)}
    assert work[0] == work[10_000] == work[50_000], work
    assert work[0] < 200 * 10  # a few slots and the one due entry per tick
    # the plain table scans: its work grows with what is stored
    assert _visits_per_run(10_000, timed=False) > 200 * 10_000


def test_far_entries_come_due_through_the_levels():
    """Entries due in seconds, minutes and days are each handed out at their moment,
    once the timer has ticked up to it."""
    pool = Pool(16 * 1024 * 1024)
    try:
        t = SharedHashTable(8, pool=pool, timed=True)
        t.expire(T0)
        dues = [3.0, 15.9, 16.1, 120.0, 3600.0, 5 * 3600.0, 3 * 86400.0]
        for d in dues:
            t.put(b"d%g" % d, b"x", T0 + d, 7)
        t.put(b"never", b"y", 0.0, 0)
        got = {}
        now = T0
        step = 0.05
        while now < T0 + dues[-1] + 1:
            now += step if now < T0 + 200 else 3.0  # a fine tick, then a coarser one
            for key, _v, exp, flags in t.expire_entries(now):
                assert flags == 7 and exp <= now
                got[key] = now - exp
        assert sorted(got) == sorted(b"d%g" % d for d in dues)
        assert all(late <= 3.0 for late in got.values()), got
        assert list(t.keys()) == [b"never"]
        t.destroy()
        pool.check()
    finally:
        pool.close()


def test_matches_a_model_under_random_writes_and_clock_jumps():
    """put/overwrite/delete/pop and expiry at a clock that ticks, stalls, jumps ahead and
    goes back: what expiry hands back is what a full scan of a model would."""
    rng = random.Random(18)
    pool = Pool(16 * 1024 * 1024)
    try:
        t = SharedHashTable(6, pool=pool, timed=True)
        model = {}
        now = T0
        for _ in range(20_000):
            r = rng.random()
            key = b"k%d" % rng.randrange(300)
            if r < 0.45:
                exp = rng.choice([0.0, now - 1, now + rng.uniform(0, 2),
                                  now + rng.uniform(0, 40), now + rng.uniform(0, 30000),
                                  now + 1e9, float("inf")])
                keep = rng.random() < 0.1 and key in model
                if keep:
                    t.replace(key, model[key][0], b"r", flags=1)
                    model[key] = (b"r", model[key][1])
                else:
                    t.put(key, b"v", exp)
                    model[key] = (b"v", exp)
            elif r < 0.55:
                assert t.delete(key) == (model.pop(key, None) is not None)
            elif r < 0.6:
                assert t.pop(key) == (model.pop(key, (None,))[0])
            else:
                r = rng.random()
                if r < 0.9:
                    now += rng.uniform(0, 0.2)
                elif r < 0.95:
                    now += rng.uniform(0, 100000)
                else:
                    now -= rng.uniform(0, 50)
                got = sorted((k, v) for k, v in t.expire(now))
                due = sorted((k, v) for k, (v, e) in model.items() if 0 < e <= now)
                assert got == due
                for k, _ in due:
                    del model[k]
                assert len(t) == len(model)
        assert {k: v for k, v, _e, _f in t.entries()} == {k: v for k, (v, _e) in model.items()}
        t.destroy()
        pool.check()
        assert pool.free_blocks() == 1
    finally:
        pool.close()


def test_due_entries_past_the_buffer_come_in_later_calls(pool):
    t = SharedHashTable(4, pool=pool, timed=True)
    for i in range(3000):
        t.put(b"k%d" % i, b"v" * 100, T0 + (i % 7) * 0.01)
    assert len(t.expire(T0 + 1)) == 3000 and len(t) == 0
    t.destroy()


def test_children_arm_the_parent_expires(pool, fork_run):
    t = SharedHashTable(8, pool=pool, timed=True)
    t.expire(T0)

    def child(i):
        for n in range(500):
            t.put(b"c%d-%d" % (i, n), b"", T0 + 1 + n % 50, 0)
            if n % 5 == 0:
                t.put(b"c%d-%d" % (i, n), b"", T0 + 1000, 0)  # re-armed further
            if n % 7 == 0:
                t.delete(b"c%d-%d" % (i, n))

    fork_run(3, child)
    got = set()
    now = T0
    while now < T0 + 60:
        now += 0.05
        got.update(k for k, _ in t.expire(now))
    expected = {b"c%d-%d" % (i, n) for i in range(3) for n in range(500) if n % 5 and n % 7}
    assert got == expected
    assert len(t) == sum(1 for n in range(500) if n % 5 == 0 and n % 7) * 3
    t.destroy()


def test_workers_arm_while_the_timer_expires(pool, fork_run):
    """Writers put, re-arm and delete while another process expires at the same time
    (the tm timer beside the workers): nothing handed out that was never stored, the
    pool intact, and every entry gone once all are due."""
    t = SharedHashTable(6, pool=pool, timed=True)
    popped = SharedHashTable(10, pool=pool)
    t.expire(time.time())

    def proc(i):
        end = time.time() + 0.8
        rng = random.Random(i)
        while time.time() < end:
            if i == 0:
                for key, _v in t.expire(time.time()):
                    popped.put(key, b"")
                continue
            key = b"w%d-%d" % (i, rng.randrange(200))
            if rng.random() < 0.8:
                t.put(key, b"", time.time() + rng.uniform(-0.1, 0.3))
            else:
                t.delete(key)

    fork_run(4, proc)
    assert len(popped) > 100
    assert {k.split(b"-")[0] for k in popped.keys()} <= {b"w1", b"w2", b"w3"}
    t.expire(time.time() + 1)
    assert len(t) == 0 and list(t.keys()) == []
    t.destroy()
    popped.destroy()
    pool.check()
    assert pool.free_blocks() == 1


def test_a_shared_lock_set_is_refused(pool):
    with pytest.raises(ValueError, match="own"):
        SharedHashTable(4, pool=pool, locks=LockSet(4, pool=pool), timed=True)
