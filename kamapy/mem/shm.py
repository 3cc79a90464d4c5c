"""The shared memory pool (Kamailio's shm_malloc/shm_free, src/core/mem).

A `Pool` is one anonymous MAP_SHARED mapping made in C, managed by a TLSF allocator
under one robust process-shared mutex. Create it in the master before forking: every
child then sees it at the same address, so addresses (plain ints) and the objects
built on the pool (locks, lock sets, hash tables, counters, the process table) can be
handed to children as they are.

`init_pool(size)` makes the process-wide pool the server uses and `pool()` returns it;
tests and tools may create further independent `Pool` objects.
"""

import errno

from kamapy._native._kamapy_native import ffi, lib

__all__ = ["Pool", "ShmExhausted", "ShmCorrupted", "init_pool", "pool", "resolve_pool"]

_malloc = lib.kp_shm_malloc_addr
_free = lib.kp_shm_free_addr
_realloc = lib.kp_shm_realloc_addr


class ShmExhausted(MemoryError):
    """The pool has no free block large enough for a request."""


class ShmCorrupted(RuntimeError):
    """Pool.check() found the heap inconsistent (an overrun, a bad free ...)."""


class Pool:
    """One shared memory pool; see the module docstring."""

    def __init__(self, size):
        ptr = lib.kp_pool_create(size)
        if ptr == ffi.NULL:
            code = ffi.errno
            if code == errno.EINVAL:
                raise ValueError(f"shm pool size {size} out of range (64 KiB .. 1 TiB)")
            raise OSError(code, f"cannot map a {size}-byte shm pool")
        self._p = ptr
        self.base = lib.kp_pool_base(ptr)
        self.size = lib.kp_pool_size(ptr)
        self._stats = ffi.new("kp_shm_stats_t *")

    @property
    def ptr(self):
        """The kp_pool_t * that native objects of this pool are created with."""
        if self._p is None:
            raise RuntimeError("shm pool is closed")
        return self._p

    # -- allocation --------------------------------------------------------------

    def malloc(self, size):
        """Allocate size bytes (16-byte aligned); returns the address, never 0."""
        addr = _malloc(self._p, size)
        if not addr:
            raise self._exhausted(size)
        return addr

    def free(self, addr):
        rc = _free(self._p, addr)
        if rc:
            if rc == lib.KP_SHM_ECORRUPT:
                raise ShmCorrupted(f"shm pool unusable: {self.corrupted}; restart kamapy")
            raise ValueError(f"shm free: {addr:#x} is not an allocated block of this pool")

    def realloc(self, addr, size):
        """Resize the block at addr (0 = malloc), in place when it can; returns the new
        address. On ShmExhausted the old block is left as it was. size 0 keeps a
        minimal block (it does not free)."""
        if not addr:
            return self.malloc(size)
        new = _realloc(self._p, addr, size)
        if not new:
            if ffi.errno == errno.EINVAL:
                raise ValueError(f"shm realloc: {addr:#x} is not an allocated block of this pool")
            raise self._exhausted(size)
        return new

    def usable_size(self, addr):
        """Bytes usable at addr (the request rounded up to the allocator's step)."""
        self._check_range(addr, 1)
        return lib.kp_shm_usable_size(ffi.cast("void *", addr))

    @property
    def corrupted(self):
        """None, or why the pool no longer allocates: a process died holding its lock in
        the middle of a change and the heap check that followed failed."""
        lib.kp_shm_stats(self._p, self._stats)
        code = self._stats.corrupted
        return ffi.string(lib.kp_shm_strerror(code)).decode() if code else None

    def _exhausted(self, size):
        why = self.corrupted
        if why is not None:
            return ShmCorrupted(f"shm pool unusable: {why}; restart kamapy")
        st = self.stats()
        return ShmExhausted(
            f"shm pool exhausted: {size} bytes requested, {st['free']} free "
            f"in {st['fragments']} fragments of {st['total']}"
        )

    # -- raw access to allocated memory -----------------------------------------

    def write(self, addr, data):
        self._check_range(addr, len(data))
        ffi.memmove(ffi.cast("char *", addr), data, len(data))

    def read(self, addr, size):
        self._check_range(addr, size)
        return ffi.unpack(ffi.cast("char *", addr), size)

    def _check_range(self, addr, size):
        # Guards against stray addresses only; staying inside one's block is the caller's job.
        if size < 0 or addr < self.base or addr + size > self.base + self.size:
            raise ValueError(f"address range {addr:#x}+{size} is outside the shm pool")

    # -- introspection -----------------------------------------------------------

    def stats(self):
        """The core.shmmem figures: total, used, real_used, max_used, free, fragments."""
        st = self._stats
        lib.kp_shm_stats(self._p, st)
        return {
            "total": st.total,
            "used": st.used,
            "real_used": st.real_used,
            "max_used": st.max_used,
            "free": st.free,
            "fragments": st.fragments,
        }

    @property
    def recoveries(self):
        """Times the pool lock was taken over from a process that died holding it."""
        lib.kp_shm_stats(self._p, self._stats)
        return self._stats.recoveries

    def free_blocks(self):
        return lib.kp_shm_free_blocks(self._p)

    def check(self):
        """Walk every block and free list; raise ShmCorrupted if anything is off."""
        rc = lib.kp_shm_check(self._p)
        if rc:
            raise ShmCorrupted(ffi.string(lib.kp_shm_strerror(rc)).decode())

    # -- lifetime ----------------------------------------------------------------

    def close(self):
        """Unmap the pool in this process. Everything allocated from it becomes invalid
        here, so only tests and tools that own the pool outright should call this."""
        if self._p is not None:
            lib.kp_pool_destroy(self._p)
            self._p = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self._p is None else f"{self.size} bytes at {self.base:#x}"
        return f"<Pool {state}>"


_default = None


def init_pool(size):
    """Create the process-wide pool; once per process tree, in the master before fork."""
    global _default
    if _default is not None:
        raise RuntimeError("the shm pool is already initialised")
    _default = Pool(size)
    from . import lock_watch
    lock_watch.watch("shm pool", _default)
    return _default


def pool():
    """The process-wide pool made by init_pool()."""
    if _default is None:
        raise RuntimeError("no shm pool: init_pool() must run in the master first")
    return _default


def resolve_pool(explicit=None):
    """explicit if given, else the process-wide pool (the `pool=` argument convention)."""
    return explicit if explicit is not None else pool()
