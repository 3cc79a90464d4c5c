"""Cost per operation of kamapy's native layer, called from Python.

    python bench/native_bench.py [iterations]

Each figure is the best of three runs of `iterations` (default 200k) calls through the
public Python API, in ns per operation (one operation = the pair named).
"""

import sys
import time

from kamapy.mem.counters import Counter, CounterArray
from kamapy.mem.htable import SharedHashTable
from kamapy.mem.lockset import Lock, LockSet
from kamapy.mem.shm import Pool


def best_ns(fn, n, repeat=3):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn(n)
        dt = (time.perf_counter_ns() - t0) / n
        best = dt if best is None else min(best, dt)
    return best


def bench_malloc_free(pool, size):
    malloc, free = pool.malloc, pool.free

    def run(n):
        for _ in range(n):
            free(malloc(size))

    return run


def bench_lock(lock):
    get, release = lock.get, lock.release

    def run(n):
        for _ in range(n):
            get()
            release()

    return run


def bench_lockset(locks):
    get, release = locks.get, locks.release

    def run(n):
        for i in range(n):
            i &= 15
            get(i)
            release(i)

    return run


def bench_ht_put(table, keys, value):
    put, nkeys = table.put, len(keys)

    def run(n):
        for i in range(n):
            put(keys[i % nkeys], value)

    return run


def bench_ht_get(table, keys):
    get, nkeys = table.get, len(keys)

    def run(n):
        for i in range(n):
            get(keys[i % nkeys])

    return run


def bench_counter_add(counters):
    add = counters.add

    def run(n):
        for _ in range(n):
            add(3, 1)

    return run


def bench_single_counter(counter):
    add = counter.add

    def run(n):
        for _ in range(n):
            add(1)

    return run


def bench_empty_loop(n):
    for i in range(n):
        i &= 15


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    pool = Pool(256 * 1024 * 1024)
    lock = Lock(pool=pool)
    locks = LockSet(16, pool=pool)
    sysv = Lock(pool=pool, method="sysv")
    table = SharedHashTable(size_log2=14, pool=pool)
    keys = [b"a84b4c76e66710@pc33.atlanta.example.com-%06d" % i for i in range(10_000)]
    value = b"v" * 200
    for k in keys:
        table.put(k, value)
    counters = CounterArray(16, pool=pool)
    counter = Counter(pool=pool)

    rows = [
        ("(empty Python loop, for reference)", bench_empty_loop),
        ("shm malloc+free 64 B", bench_malloc_free(pool, 64)),
        ("shm malloc+free 1 KB", bench_malloc_free(pool, 1024)),
        ("Lock get+release (robust mutex)", bench_lock(lock)),
        ("LockSet get(i)+release(i)", bench_lockset(locks)),
        ("Lock get+release (sysv fallback)", bench_lock(sysv)),
        ("hash put, 200 B value (overwrite)", bench_ht_put(table, keys, value)),
        ("hash get, 200 B value", bench_ht_get(table, keys)),
        ("CounterArray.add", bench_counter_add(counters)),
        ("Counter.add", bench_single_counter(counter)),
    ]
    try:
        print(f"{'operation':40s} {'ns/op':>8s}   ({n} iterations, best of 3)")
        for name, fn in rows:
            iters = n // 4 if "sysv" in name else n
            print(f"{name:40s} {best_ns(fn, iters):8.0f}")
    finally:
        sysv.destroy()
        table.destroy()
    pool.check()


if __name__ == "__main__":
    main()
