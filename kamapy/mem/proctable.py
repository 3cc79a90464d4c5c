"""The process table in shared memory (Kamailio: pt.c), read by the core.psx RPC.

The master creates it before forking with one slot per process it will run; a process
(or the master on its behalf) fills its slot with pid, rank and a description of up to
128 bytes, and any process can list the table.
"""

from kamapy._native._kamapy_native import ffi, lib
from kamapy.mem.shm import ShmExhausted, resolve_pool

__all__ = ["ProcTable", "DESC_MAX"]

DESC_MAX = lib.KP_PROC_DESC_MAX


class ProcTable:
    """ProcTable(max_procs, pool=None)."""

    def __init__(self, max_procs, pool=None):
        if max_procs < 1:
            raise ValueError("a process table needs at least one slot")
        self.pool = resolve_pool(pool)
        self.size = max_procs
        self._pt = lib.kp_proctable_new(self.pool.ptr, max_procs)
        if self._pt == ffi.NULL:
            raise ShmExhausted(f"shm pool exhausted: cannot allocate {max_procs} process slots")

    def _slot(self, slot):
        if not 0 <= slot < self.size:
            raise IndexError(f"process slot {slot} out of range 0..{self.size - 1}")
        return slot

    def set(self, slot, pid, rank, desc):
        """Fill a slot; desc (str or bytes) is cut to 128 bytes."""
        if pid <= 0:
            raise ValueError("pid must be positive (0 marks a free slot)")
        raw = desc.encode() if isinstance(desc, str) else bytes(desc)
        raw = raw[:DESC_MAX]
        lib.kp_proctable_set(self._pt, self._slot(slot), pid, rank, raw, len(raw))

    def clear(self, slot):
        lib.kp_proctable_clear(self._pt, self._slot(slot))

    def entries(self):
        """[(slot, pid, rank, desc)] for the used slots, from one consistent snapshot."""
        snap = ffi.new("kp_proc_t[]", self.size)
        lib.kp_proctable_read(self._pt, snap)
        return [
            (slot, p.pid, p.rank, ffi.unpack(p.desc, p.desc_len).decode(errors="replace"))
            for slot, p in enumerate(snap)
            if p.pid
        ]

    def destroy(self):
        if self._pt is not None:
            lib.kp_proctable_free(self.pool.ptr, self._pt)
            self._pt = None

    def __repr__(self):
        return f"<ProcTable size={self.size}>"
