"""Atomic 64-bit counters in shared memory (Kamailio: counters.c, atomic_ops.h).

A CounterArray is n signed 64-bit integers in the shm pool updated with the CPU's
atomic instructions: no lock, one cffi call per operation, safe from any process.
They back the statistics (stats.get_statistics) and small shared flags/pids.
"""

from kamapy._native._kamapy_native import ffi, lib
from kamapy.mem.shm import ShmExhausted, resolve_pool

__all__ = ["CounterArray", "Counter", "describe", "description"]

_add = lib.kp_counter_add
_get = lib.kp_counter_get
_set = lib.kp_counter_set
_reset = lib.kp_counter_reset

# (group, name) -> what cnt.help says of a counter: Kamailio's counter_register takes
# the doc string in the core, so any module describes its own (pike, counters' script ones)
_docs: dict[tuple[str, str], str] = {}


def describe(group: str, name: str, doc: str) -> None:
    """Give counter group.name its description (a process-local table, filled at
    start-up before the fork)."""
    _docs[(group, name)] = doc


def description(group: str, name: str) -> str | None:
    return _docs.get((group, name))


class CounterArray:
    """CounterArray(n, pool=None): n counters, all 0."""

    def __init__(self, n, pool=None):
        if n < 1:
            raise ValueError("a counter array needs at least one counter")
        self.pool = resolve_pool(pool)
        self.size = n
        self._c = lib.kp_counters_new(self.pool.ptr, n)
        if self._c == ffi.NULL:
            raise ShmExhausted(f"shm pool exhausted: cannot allocate {n} counters")

    def _index(self, i):
        # The C side trusts the index: an out-of-range one would write outside the array.
        if not 0 <= i < self.size:
            raise IndexError(f"counter index {i} out of range 0..{self.size - 1}")
        return i

    def add(self, i, delta=1):
        """Add delta (may be negative); returns the new value."""
        if not 0 <= i < self.size:
            self._index(i)
        return _add(self._c, i, delta)

    def get(self, i):
        if not 0 <= i < self.size:
            self._index(i)
        return _get(self._c, i)

    def set(self, i, value):
        _set(self._c, self._index(i), value)

    def reset(self, i):
        """Set to 0; returns the value it had."""
        return _reset(self._c, self._index(i))

    def values(self):
        out = ffi.new("int64_t[]", self.size)
        lib.kp_counters_read(self._c, 0, self.size, out)
        return list(out)

    def __len__(self):
        return self.size

    def destroy(self):
        """Give the memory back; nobody may use the counters afterwards."""
        if self._c is not None:
            lib.kp_counters_free(self.pool.ptr, self._c)
            self._c = None

    def __repr__(self):
        return f"<CounterArray size={self.size}>"


class Counter:
    """One shared counter: Counter(pool=None)."""

    def __init__(self, pool=None):
        self._array = CounterArray(1, pool=pool)
        self._c = self._array._c

    def add(self, delta=1):
        """Add delta (may be negative); returns the new value."""
        return _add(self._c, 0, delta)

    def get(self):
        return _get(self._c, 0)

    def set(self, value):
        _set(self._c, 0, value)

    def reset(self):
        """Set to 0; returns the value it had."""
        return _reset(self._c, 0)

    value = property(get, set)

    def destroy(self):
        self._array.destroy()
        self._c = None

    def __repr__(self):
        return f"<Counter {self.get() if self._c is not None else 'destroyed'}>"
