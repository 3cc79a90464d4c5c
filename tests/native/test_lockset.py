"""Locks and lock sets: mutual exclusion across processes and recovery of a lock whose
holder was SIGKILLed, for both methods."""

import logging
import os
import signal

import pytest

from kamapy.mem.lockset import Lock, LockSet

pytestmark = pytest.mark.timeout(60)

METHODS = ["mutex", "sysv"]


@pytest.fixture(params=METHODS)
def method(request):
    return request.param


@pytest.fixture
def make_lock(pool, method):
    made = []

    def make(**kw):
        obj = Lock(pool=pool, method=method, **kw)
        made.append(obj)
        return obj

    yield make
    for obj in made:
        obj.destroy()  # sysv semaphores outlive processes unless removed


@pytest.fixture
def make_set(pool, method):
    made = []

    def make(n, **kw):
        obj = LockSet(n, pool=pool, method=method, **kw)
        made.append(obj)
        return obj

    yield make
    for obj in made:
        obj.destroy()


def _bump(pool, addr):
    """A deliberately non-atomic read-modify-write of a shm counter."""
    value = int.from_bytes(pool.read(addr, 8), "little")
    pool.write(addr, (value + 1).to_bytes(8, "little"))


def test_lock_basics(make_lock, method):
    lock = make_lock(name="basic")
    assert lock.method == method
    lock.get()
    with pytest.raises(RuntimeError):
        lock.get()  # not recursive: an error, not a hang
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
    assert lock.try_get() is True
    lock.lock_release()
    lock.lock_get()
    lock.lock_release()
    with lock:
        pass
    assert lock.recoveries == 0


def test_lockset_basics(make_set):
    locks = make_set(8)
    assert len(locks) == 8
    locks.get(7)
    locks.release(7)
    assert locks.try_get(3)
    locks.lock_set_release(3)
    locks.lock_set_get(0)
    assert locks.lock_set_try(1)
    locks.lock_set_release(0)
    locks.lock_set_release(1)
    with locks.held(5):
        pass
    with pytest.raises(IndexError):
        locks.get(8)
    with pytest.raises(IndexError):
        locks.try_get(8)
    with pytest.raises(IndexError):
        locks.release(8)


def test_try_get_sees_a_holder_in_another_process(make_lock, fork_tools):
    start_child, reap = fork_tools
    lock = make_lock()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()

    def holder():
        lock.get()
        os.write(ready_w, b"1")
        os.read(go_r, 1)
        lock.release()

    pid = start_child(holder)
    try:
        assert os.read(ready_r, 1) == b"1"
        assert lock.try_get() is False
        os.write(go_w, b"1")
    finally:
        codes = reap([pid])
    assert codes[pid] == 0
    lock.get()  # released by the child, and no recovery happened
    lock.release()
    assert lock.recoveries == 0
    for fd in (ready_r, ready_w, go_r, go_w):
        os.close(fd)


def test_lock_mutual_exclusion(pool, make_lock, fork_run, method):
    lock = make_lock()
    counter = pool.malloc(8)
    pool.write(counter, bytes(8))
    procs, rounds = 4, (5000 if method == "mutex" else 1000)

    def worker(_):
        for _ in range(rounds):
            with lock:
                _bump(pool, counter)

    fork_run(procs, worker)
    assert int.from_bytes(pool.read(counter, 8), "little") == procs * rounds


def test_lockset_mutual_exclusion(pool, make_set, fork_run, method):
    locks = make_set(4)
    counters = [pool.malloc(8) for _ in range(4)]
    for c in counters:
        pool.write(c, bytes(8))
    procs, rounds = 4, (3000 if method == "mutex" else 600)

    def worker(i):
        for r in range(rounds):
            slot = (i + r) % 4
            locks.get(slot)
            _bump(pool, counters[slot])
            locks.release(slot)

    fork_run(procs, worker)
    total = sum(int.from_bytes(pool.read(c, 8), "little") for c in counters)
    assert total == procs * rounds


def _die_holding(fork_tools, acquire):
    """Fork a child that takes a lock, then SIGKILL it while it holds it."""
    start_child, reap = fork_tools
    ready_r, ready_w = os.pipe()

    def holder():
        acquire()
        os.write(ready_w, b"1")
        signal.pause()

    pid = start_child(holder)
    try:
        assert os.read(ready_r, 1) == b"1"
        os.kill(pid, signal.SIGKILL)
    finally:
        codes = reap([pid])
        os.close(ready_r)
        os.close(ready_w)
    assert codes[pid] == -signal.SIGKILL


def test_dead_holder_lock_is_recovered(make_lock, fork_tools, caplog):
    repaired = []
    lock = make_lock(name="victim", repair=repaired.append)
    _die_holding(fork_tools, lock.get)
    with caplog.at_level(logging.WARNING, logger="kamapy.lock"):
        lock.get()
    assert lock.recoveries == 1
    assert repaired == [lock]
    assert any("victim" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    lock.release()
    lock.get()  # a normal lock again
    lock.release()
    assert lock.recoveries == 1


def test_dead_holder_try_get_recovers(make_lock, fork_tools, caplog):
    lock = make_lock(name="victim-try")
    _die_holding(fork_tools, lock.get)
    with caplog.at_level(logging.WARNING, logger="kamapy.lock"):
        assert lock.try_get() is True
    assert lock.recoveries == 1
    assert "victim-try" in caplog.text
    lock.release()


def test_dead_holder_lockset_is_recovered(make_set, fork_tools, caplog):
    repaired = []
    locks = make_set(4, name="victims", repair=lambda s, i: repaired.append(i))
    _die_holding(fork_tools, lambda: locks.get(2))
    locks.get(1)  # the others are unaffected
    locks.release(1)
    with caplog.at_level(logging.WARNING, logger="kamapy.lock"):
        locks.get(2)
    assert locks.recoveries == 1
    assert repaired == [2]
    assert "victims[2]" in caplog.text
    locks.release(2)


def test_failing_repair_releases_the_lock(make_lock, fork_tools):
    def repair(_lock):
        raise ValueError("cannot repair")

    lock = make_lock(repair=repair)
    _die_holding(fork_tools, lock.get)
    with pytest.raises(ValueError):
        lock.get()
    assert lock.try_get() is True  # it was released on the way out
    lock.release()


def test_unknown_method_is_refused(pool):
    with pytest.raises(ValueError):
        Lock(pool=pool, method="futex")
    with pytest.raises(ValueError):
        LockSet(2, pool=pool, method="spin")
