"""A process that dies holding the shm pool's lock (killed inside malloc or free): the
next process to take the lock checks the heap. A sound heap goes on as if nothing
happened; a broken one stops the pool -- nothing is handed out or freed any more, and
every caller gets ShmCorrupted with the reason -- rather than writing through a broken
free list."""

import os

import pytest
from kamapy._native._kamapy_native import ffi, lib

from kamapy.mem.shm import ShmCorrupted

pytestmark = pytest.mark.timeout(60)


def die_holding_the_lock(pool, before=None):
    pid = os.fork()
    if pid == 0:
        try:
            if before is not None:
                before()
            lib.kp_shm_test_hold_lock(pool.ptr)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0


def test_a_sound_heap_goes_on(pool):
    a = pool.malloc(100)
    die_holding_the_lock(pool)
    b = pool.malloc(100)  # takes the lock over, checks the heap: fine
    assert pool.recoveries == 1 and pool.corrupted is None
    pool.free(a)
    pool.free(b)
    pool.check()
    assert pool.free_blocks() == 1


def test_a_broken_heap_stops_the_pool(pool):
    a = pool.malloc(100)

    def half_done_change():
        # what a process killed in the middle of a split could leave: a block header
        # whose size runs past the end of the heap
        ffi.memmove(ffi.cast("char *", a - 8), b"\xf0\xff\xff\xff\xff\x00\x00\x00", 8)

    die_holding_the_lock(pool, half_done_change)
    with pytest.raises(ShmCorrupted, match="restart"):
        pool.malloc(10)
    assert pool.recoveries == 1
    assert "died holding its lock" not in (pool.corrupted or "") and pool.corrupted  # the check's finding
    with pytest.raises(ShmCorrupted):
        pool.free(a)  # nothing is freed through a broken heap either
    with pytest.raises(ShmCorrupted):
        pool.check()
    assert lib.kp_shm_malloc_addr(pool.ptr, 10) == 0 and ffi.errno != 0
