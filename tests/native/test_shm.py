"""The shm pool: allocation, accounting, coalescing, errors, exhaustion."""

import os

import pytest

from kamapy.mem import shm
from kamapy.mem.shm import Pool, ShmCorrupted, ShmExhausted

STATS_KEYS = {"total", "used", "real_used", "max_used", "free", "fragments"}


def test_fresh_pool_is_one_free_block(pool):
    st = pool.stats()
    assert set(st) == STATS_KEYS
    assert st["total"] == pool.size
    assert st["used"] == 0
    assert st["fragments"] == pool.free_blocks() == 1
    assert st["free"] == st["total"] - st["real_used"]
    pool.check()


def test_malloc_gives_aligned_distinct_writable_blocks(pool):
    addrs = [pool.malloc(n) for n in (1, 16, 17, 100, 511, 512, 513, 4096, 70000)]
    assert all(a and a % 16 == 0 for a in addrs)
    assert len(set(addrs)) == len(addrs)
    for i, a in enumerate(addrs):
        pool.write(a, bytes([i]) * 16)
    for i, a in enumerate(addrs):
        assert pool.read(a, 16) == bytes([i]) * 16
    pool.check()
    for a in addrs:
        pool.free(a)
    assert pool.free_blocks() == 1
    pool.check()


def test_malloc_zero_returns_a_real_block(pool):
    a = pool.malloc(0)
    assert a != 0
    pool.free(a)


def test_accounting_follows_allocations(pool):
    base = pool.stats()
    a = pool.malloc(100)
    st = pool.stats()
    assert st["used"] == pool.usable_size(a) == 112
    assert st["real_used"] > base["real_used"] + 112
    assert st["max_used"] >= st["real_used"]
    pool.free(a)
    st = pool.stats()
    assert st["used"] == 0 and st["real_used"] == base["real_used"]
    assert st["max_used"] > base["real_used"]


def test_neighbouring_free_blocks_coalesce(pool):
    a, b, c, d = (pool.malloc(256) for _ in range(4))
    pool.free(b)
    assert pool.free_blocks() == 2  # b, and the tail of the pool
    pool.free(c)
    assert pool.free_blocks() == 2  # b+c merged
    pool.free(a)
    assert pool.free_blocks() == 2  # a+b+c
    pool.free(d)
    assert pool.free_blocks() == 1  # everything, with the tail
    pool.check()


def test_freed_block_is_reused(pool):
    a = pool.malloc(1000)
    pool.free(a)
    assert pool.malloc(1000) == a


def test_bad_frees_raise_and_do_no_harm(pool):
    a = pool.malloc(64)
    with pytest.raises(ValueError):
        pool.free(a + 16)
    with pytest.raises(ValueError):
        pool.free(pool.base - 4096)
    with pytest.raises(ValueError):
        pool.free(0)
    pool.free(a)
    with pytest.raises(ValueError):
        pool.free(a)  # double free
    pool.check()
    assert pool.free_blocks() == 1


def test_realloc_grows_shrinks_and_keeps_data(pool):
    a = pool.malloc(100)
    pool.write(a, b"x" * 100)
    b = pool.realloc(a, 5000)  # the rest of the pool follows: grows in place
    assert b == a
    assert pool.read(b, 100) == b"x" * 100
    blocker = pool.malloc(16)  # now growing b must move it
    c = pool.realloc(b, 20000)
    assert c != b and pool.read(c, 100) == b"x" * 100
    d = pool.realloc(c, 32)  # shrink in place
    assert d == c and pool.read(d, 32) == b"x" * 32
    assert pool.realloc(0, 10)  # realloc of 0 is malloc
    with pytest.raises(ValueError):
        pool.realloc(blocker + 16, 10)  # inside a block, not one
    pool.check()


def test_realloc_failure_keeps_old_block(pool):
    a = pool.malloc(64)
    pool.write(a, b"k" * 64)
    with pytest.raises(ShmExhausted):
        pool.realloc(a, pool.size * 2)
    assert pool.read(a, 64) == b"k" * 64
    pool.free(a)
    assert pool.free_blocks() == 1


def test_exhaustion_raises_and_pool_recovers():
    with Pool(256 * 1024) as small:
        blocks = []
        with pytest.raises(ShmExhausted) as err:
            while True:
                blocks.append(small.malloc(1000))
        assert isinstance(err.value, MemoryError)
        assert len(blocks) > 200
        with pytest.raises(ShmExhausted):
            small.malloc(10 << 30)
        small.check()
        for a in blocks[::2]:
            small.free(a)
        again = small.malloc(1000)  # works again after frees
        small.free(again)
        for a in blocks[1::2]:
            small.free(a)
        assert small.free_blocks() == 1
        assert small.stats()["used"] == 0
        small.check()


def test_check_detects_an_overrun(pool):
    a = pool.malloc(32)
    b = pool.malloc(32)
    pool.write(a, b"\xff" * 64)  # tramples b's header
    with pytest.raises(ShmCorrupted):
        pool.check()
    del b


def test_read_write_outside_the_pool_is_refused(pool):
    with pytest.raises(ValueError):
        pool.read(pool.base + pool.size - 4, 8)
    with pytest.raises(ValueError):
        pool.write(pool.base - 8, b"12345678")


def test_pool_size_must_be_sane():
    with pytest.raises(ValueError):
        Pool(1024)


def test_independent_pools_do_not_mix(pool):
    with Pool(1 << 20) as other:
        a = other.malloc(64)
        with pytest.raises(ValueError):
            pool.free(a)
        other.free(a)


def test_children_see_parent_allocations(pool, fork_run):
    a = pool.malloc(64)
    pool.write(a, b"from-parent")

    def child(i):
        assert pool.read(a, 11) == b"from-parent"
        b = pool.malloc(64)
        pool.write(a, b"from-child%d" % i)
        pool.free(b)

    fork_run(1, child)
    assert pool.read(a, 11) == b"from-child0"
    pool.free(a)
    assert pool.free_blocks() == 1


def test_init_pool_once_per_process_tree(fork_run):
    def child(_):
        shm._default = None  # this forked child starts from a clean slate
        with pytest.raises(RuntimeError):
            shm.pool()
        p = shm.init_pool(1 << 20)
        assert shm.pool() is p
        with pytest.raises(RuntimeError):
            shm.init_pool(1 << 20)
        pid = os.fork()  # a grandchild inherits the pool and cannot make another
        if pid == 0:
            code = 1
            try:
                assert shm.pool() is p
                shm.init_pool(1 << 20)
            except RuntimeError:
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0

    fork_run(1, child)
