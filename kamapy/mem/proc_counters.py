"""Counters with one row per process in shared memory, the way Kamailio's counters.c
keeps its statistics: a process adds to its own row with a plain memory write (a
memoryview over the shm block: no atomic instruction, no C call, no GIL release), and
a reader sums the rows.

No increment is lost, since only one process writes a row; a read may miss an add
that is under way. set() and reset() write every row and are not atomic with adds
running elsewhere (Kamailio's counter reset is not either). The row of a process is
its process-table slot (the master: 0); kamapy.stats.bind_process() picks it after the
fork, and a replacement of a dead child goes on in the same row, so nothing counted is
lost with it.
"""

from __future__ import annotations

import weakref

from kamapy._native._kamapy_native import ffi

from .shm import resolve_pool

MAX_ROWS = 256  # = the process table's slots (kamapy.server.boot makes ProcTable(256))

_arrays: weakref.WeakSet = weakref.WeakSet()  # every live array, for bind_process()
_row = [0]  # the row this process writes


class ProcessCounters:
    """ProcessCounters(n): n counters, each with MAX_ROWS per-process parts, all 0."""

    def __init__(self, n: int, pool=None, rows: int = MAX_ROWS):
        if n < 1:
            raise ValueError("a counter array needs at least one counter")
        self.size = n
        self.rows = rows
        self.pool = resolve_pool(pool)
        nbytes = 8 * n * rows
        self._addr = self.pool.malloc(nbytes)
        buf = ffi.buffer(ffi.cast("char *", self._addr), nbytes)
        buf[:] = bytes(nbytes)
        self._all = memoryview(buf).cast("q")
        self.row = self._all[_row[0] * n:(_row[0] + 1) * n]  # this process' part: add here
        _arrays.add(self)

    def bind(self, row: int):
        if not 0 <= row < self.rows:
            raise ValueError(f"process row {row} out of range 0..{self.rows - 1}")
        self.row = self._all[row * self.size:(row + 1) * self.size]

    def add(self, i: int, n: int = 1):
        self.row[i] += n

    def get(self, i: int) -> int:
        return sum(self._all[i::self.size])

    def set(self, i: int, value: int):
        """Make the total value: every other row's part 0, this process' part value."""
        all_ = self._all
        for k in range(i, len(all_), self.size):
            all_[k] = 0
        self.row[i] = value

    def __len__(self):
        return self.size

    def __repr__(self):
        return f"<ProcessCounters size={self.size}>"


def bind_process(row: int):
    """Make this process add to its own row of every array (after the fork)."""
    _row[0] = row
    for arr in _arrays:
        arr.bind(row)
