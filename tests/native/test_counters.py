"""Atomic counters shared by processes."""

import pytest

from kamapy.mem.counters import Counter, CounterArray

pytestmark = pytest.mark.timeout(60)


def test_counter_array_operations(pool):
    c = CounterArray(4, pool=pool)
    assert len(c) == 4 and c.values() == [0, 0, 0, 0]
    assert c.add(1) == 1
    assert c.add(1, 10) == 11
    assert c.add(1, -20) == -9
    c.set(2, 2**62)
    assert c.get(2) == 2**62
    assert c.reset(2) == 2**62 and c.get(2) == 0
    assert c.values() == [0, -9, 0, 0]
    for bad in (4, -1):
        with pytest.raises(IndexError):
            c.add(bad)
        with pytest.raises(IndexError):
            c.get(bad)
    c.destroy()
    assert pool.free_blocks() == 1


def test_single_counter(pool):
    c = Counter(pool=pool)
    assert c.add() == 1 and c.add(4) == 5
    c.value = 42
    assert c.value == 42 == c.get()
    assert c.reset() == 42 and c.get() == 0
    c.destroy()


def test_counters_from_several_processes(pool, fork_run):
    c = CounterArray(3, pool=pool)
    single = Counter(pool=pool)
    procs, rounds = 4, 5000

    def worker(i):
        for _ in range(rounds):
            c.add(0)
            c.add(1, i)
            single.add(-1)

    fork_run(procs, worker)
    assert c.get(0) == procs * rounds
    assert c.get(1) == rounds * sum(range(procs))
    assert single.get() == -procs * rounds
