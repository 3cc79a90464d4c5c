"""Several processes hammer one pool with random malloc/free/realloc, each block
filled with its own pattern; afterwards the pool must be exactly one free block."""

import random

import pytest

pytestmark = pytest.mark.timeout(60)

PROCS = 4
OPS = 4000
MAX_LIVE = 200  # blocks per process: a steady state that fits the 16 MiB pool


def _size(rng):
    r = rng.random()
    if r < 0.6:
        return rng.randint(1, 256)
    if r < 0.95:
        return rng.randint(257, 4096)
    return rng.randint(4097, 65536)


def _pattern(tag, size):
    return bytes([tag]) * size


def _hammer(pool, seed, ops):
    rng = random.Random(seed)
    live = {}  # addr -> (size, tag)
    for n in range(ops):
        op = rng.random()
        if not live or (op < 0.45 and len(live) < MAX_LIVE):
            size, tag = _size(rng), rng.randrange(256)
            addr = pool.malloc(size)
            assert addr not in live
            pool.write(addr, _pattern(tag, size))
            live[addr] = (size, tag)
        elif op < 0.85 or len(live) >= MAX_LIVE:
            addr = rng.choice(list(live))
            size, tag = live.pop(addr)
            assert pool.read(addr, size) == _pattern(tag, size), "block overwritten"
            pool.free(addr)
        else:
            addr = rng.choice(list(live))
            size, tag = live.pop(addr)
            new_size = _size(rng)
            new = pool.realloc(addr, new_size)
            keep = min(size, new_size)
            assert pool.read(new, keep) == _pattern(tag, keep), "realloc lost data"
            pool.write(new, _pattern(tag, new_size))
            live[new] = (new_size, tag)
        if n % 1000 == 999:
            pool.check()
    for addr, (size, tag) in live.items():
        assert pool.read(addr, size) == _pattern(tag, size)
        pool.free(addr)


def test_single_process_random_ops(pool):
    _hammer(pool, seed=1234, ops=OPS)
    assert pool.free_blocks() == 1
    assert pool.stats()["used"] == 0
    pool.check()


def test_forked_processes_random_ops_coalesce_back(pool, fork_run):
    before = pool.stats()
    fork_run(PROCS, lambda i: _hammer(pool, seed=i, ops=OPS))
    pool.check()
    st = pool.stats()
    assert pool.free_blocks() == st["fragments"] == 1
    assert st["used"] == 0
    assert st["real_used"] == before["real_used"]
    assert st["max_used"] > before["max_used"]


@pytest.mark.slow
def test_forked_processes_long_soak(pool, fork_run):
    fork_run(8, lambda i: _hammer(pool, seed=100 + i, ops=50_000), timeout=300)
    pool.check()
    assert pool.free_blocks() == 1
    assert pool.stats()["used"] == 0
